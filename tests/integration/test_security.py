"""Security: who can reach the dashboards, what a visitor can make them do, and where text
from the UI or the CLI (parameters, variant ids, view and analyzer names) can reach.

A dashboard that can start jobs is a remote-code surface. The guarantees tested here:
``tdw serve`` listens on loopback unless given a token; a visitor's browser cannot execute
code in a dashboard's kernel (Voila relays only widget messages) nor read files outside
the dashboard folder; nothing in tdw evaluates text or unpickles; job parameters are
checked against the template and the family's typed schema before papermill writes them
into a notebook; and no reference a user types resolves to a path outside the store.
"""

from __future__ import annotations

import ast
import asyncio
import http.client
import inspect
import json
import re
import socket
import uuid
from pathlib import Path

import nbformat
import pytest
from headless import free_port
from helpers import snapshot
from hypothesis import given, settings
from hypothesis import strategies as st

from tdw.cli.main import build_parser, main
from tdw.errors import JobError, ParameterError, ScheduleError, UnknownNameError
from tdw.explore.variant import Variant
from tdw.family.family import variant_id
from tdw.family.registry import get_family
from tdw.jobs import jobs
from tdw.jobs.parameters import check_parameters
from tdw.serve import ServeConfig, serve, voila_command
from tdw.store.store import Store

REPO = Path(__file__).resolve().parents[2]
FAMILY = "modulo_addition_1l"


# ---------------------------------------------------------------------- serving
def _refused(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_serve_binds_loopback_by_default():
    for command in ("serve", "quickstart"):
        assert build_parser().parse_args([command]).ip == "127.0.0.1"


@pytest.mark.parametrize("options", [
    ["--ip", "0.0.0.0"], ["--ip", "::"], ["--ip", "0.0.0.0", "--token", ""],
], ids=["all IPv4", "all IPv6", "empty token"])
@pytest.mark.parametrize("command", ["serve", "quickstart"])
def test_nothing_listens_beyond_loopback_without_a_token(tmp_path, capsys, monkeypatch,
                                                        command, options):
    def started(*args, **kwargs):
        pytest.fail("a server or a training job was started")

    monkeypatch.setattr("tdw.serve.serve", started)
    monkeypatch.setattr("tdw.jobs.launch.start_training", started)
    port = free_port()
    root = tmp_path / "store"
    assert main(["--store", str(root), command, "--port", str(port), *options]) == 2
    err = capsys.readouterr().err
    assert "without a token" in err and "--token" in err
    assert _refused(port)
    assert not list(root.glob("variants/*")) and not (root / "serve").exists()


def test_voila_keeps_its_kernel_message_filter(tmp_path):
    """Voila relays only comm, kernel-info and shutdown messages from a browser to a
    kernel (its kernel manager's ``allowed_message_types``, which a constructor argument
    sets over any config). tdw passes nothing that would loosen it; the slow test below
    shows an ``execute_request`` being dropped by a running server."""
    from voila.app import Voila

    argv = " ".join(voila_command(ServeConfig(store=tmp_path, ip="0.0.0.0", token="t")))
    assert "allowed_message_types" not in argv and "KernelManager.allow" not in argv
    source = inspect.getsource(Voila.init_settings)
    allowed = re.search(r"allowed_message_types=\[([^\]]*)\]", source).group(1)
    assert "comm_msg" in allowed and "execute_request" not in allowed


def _fetch(port: int, path: str) -> tuple[int, str, str]:
    """One GET: status, Location header, body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return (response.status, response.getheader("Location") or "",
                response.read().decode(errors="replace"))
    finally:
        conn.close()


def _message(msg_type: str, content: dict, session: str) -> str:
    header = {"msg_id": uuid.uuid4().hex, "msg_type": msg_type, "username": "",
              "session": session, "date": "", "version": "5.3"}
    return json.dumps({"header": header, "parent_header": {}, "metadata": {},
                       "content": content, "channel": "shell", "buffers": []})


async def _kernel_exchange(port: int, kernel: str, token: str, code: str) -> list[str]:
    """Over the kernel's websocket, as a browser would: an ``execute_request`` of ``code``,
    then a ``kernel_info_request``. The kernel answers shell requests in order, so once the
    ``kernel_info_reply`` arrives every reply to the execution would have arrived too.
    Returns the types of the messages received."""
    from tornado.websocket import websocket_connect

    query = f"session_id={uuid.uuid4().hex}" + (f"&token={token}" if token else "")
    conn = await websocket_connect(f"ws://127.0.0.1:{port}/api/kernels/{kernel}/channels?"
                                   f"{query}")
    session = uuid.uuid4().hex
    try:
        await conn.write_message(_message("execute_request", {
            "code": code, "silent": False, "store_history": False, "user_expressions": {},
            "allow_stdin": False, "stop_on_error": True}, session))
        await conn.write_message(_message("kernel_info_request", {}, session))
        received: list[str] = []
        while "kernel_info_reply" not in received:
            raw = await asyncio.wait_for(conn.read_message(), timeout=60)
            assert raw is not None, f"the websocket closed after {received}"
            received.append(json.loads(raw)["header"]["msg_type"])
        return received
    finally:
        conn.close()


_ESCAPES = ("/voila/render/../secret.txt", "/voila/render/..%2Fsecret.txt",
            "/voila/render/%2Ftmp%2Fsecret.txt", "/voila/files/../secret.txt",
            "/voila/files/%2E%2E%2Fsecret.txt", "/voila/files/..%2Fstore%2Fcatalog.sqlite",
            "/voila/static/..%2F..%2F..%2F..%2F..%2Fsecret.txt", "/voila/tree/..")


@pytest.mark.slow
def test_a_visitor_cannot_run_code_nor_read_files(tmp_path):
    dashboards = tmp_path / "dashboards"
    dashboards.mkdir()
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("answer = 6 * 7")]
    nbformat.write(notebook, dashboards / "tiny.ipynb")
    (tmp_path / "secret.txt").write_text("TOP-SECRET")
    marker = tmp_path / "executed"
    token = "s3cret"
    config = ServeConfig(store=tmp_path / "store", port=free_port(), token=token,
                         directory=dashboards)
    with serve(config) as server:
        status, _, page = _fetch(config.port, f"/voila/render/tiny.ipynb?token={token}")
        assert status == 200
        kernel = re.search(r'"kernelId": "([0-9a-f-]{36})"', page).group(1)
        code = f"open({str(marker)!r}, 'w').write('ran')"
        from tornado.httpclient import HTTPClientError

        with pytest.raises(HTTPClientError) as refused:  # no token: no websocket at all
            asyncio.run(_kernel_exchange(config.port, kernel, "", code))
        assert refused.value.code == 403
        received = asyncio.run(_kernel_exchange(config.port, kernel, token, code))
        assert "kernel_info_reply" in received  # the channel works ...
        assert "execute_reply" not in received and "execute_result" not in received
        assert not marker.exists()  # ... and the code never ran
        for api in ("/api/contents", "/api/kernels", "/api/sessions", "/api/terminals"):
            assert _fetch(config.port, f"{api}?token={token}")[0] == 404, api
        for path in _ESCAPES:
            for _ in range(3):  # follow redirects, keeping the token
                status, location, body = _fetch(config.port, f"{path}?token={token}")
                assert "TOP-SECRET" not in body and "SQLite format" not in body, path
                if status not in (301, 302) or "/login" in location:
                    break
                path = location.split("?")[0]
            assert status != 200, path
        # Voila logs refused requests with their URL, token included: only we may read it
        assert token in server.log.read_text() and server.log.stat().st_mode & 0o077 == 0


# ------------------------------------------------------- code from text, pickles
_NO_CALLS = {"eval", "exec", "compile", "__import__", "execfile"}
_NO_MODULES = {"pickle", "_pickle", "cPickle", "dill", "cloudpickle", "joblib", "marshal",
               "shelve"}


def _keyword(call: ast.Call, name: str):
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value.value if isinstance(kw.value, ast.Constant) else kw.value
    return None


def _violations(source: str, where: str) -> list[str]:
    """Places in ``source`` that could run text as code or unpickle bytes."""
    found = []
    for node in ast.walk(ast.parse(source)):
        line = f"{where}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) \
                else [node.module or ""]
            found += [f"{line} imports {n}" for n in names if n.split(".")[0] in _NO_MODULES]
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in _NO_CALLS:
            found.append(f"{line} calls {func.id}()")
        if not isinstance(func, ast.Attribute):
            continue
        owner = func.value.id if isinstance(func.value, ast.Name) else ""
        if (owner, func.attr) == ("torch", "load") and _keyword(node, "weights_only") is not True:
            found.append(f"{line} torch.load without weights_only=True")
        if owner in ("np", "numpy") and func.attr == "load" and _keyword(node, "allow_pickle"):
            found.append(f"{line} numpy.load(allow_pickle=...)")
        if (owner, func.attr) in (("yaml", "load"), ("os", "system"), ("os", "popen")):
            found.append(f"{line} {owner}.{func.attr}")
        if owner == "subprocess" and _keyword(node, "shell") is True:
            found.append(f"{line} subprocess with shell=True")
        if _keyword(node, "trust_remote_code") is True:
            found.append(f"{line} trust_remote_code=True")
    return found


def _sources():
    for folder in ("src/tdw", "families"):
        for path in sorted((REPO / folder).rglob("*.py")):
            yield path.read_text(), str(path.relative_to(REPO))
    for folder in ("templates", "dashboards"):
        for path in sorted((REPO / folder).glob("*.ipynb")):
            nb = nbformat.read(path, as_version=4)
            code = [c.source for c in nb.cells if c.cell_type == "code"]
            yield "\n".join(s for s in code if not s.lstrip().startswith(("%", "!"))), \
                str(path.relative_to(REPO))


def test_the_scanner_finds_each_forbidden_pattern():
    planted = ("import pickle\nfrom dill import loads\neval(text)\nexec(text)\n"
               "torch.load(f)\ntorch.load(f, weights_only=False)\nnp.load(f, allow_pickle=True)\n"
               "yaml.load(s)\nos.system(c)\nsubprocess.run(c, shell=True)\n"
               "AutoModel.from_pretrained(m, trust_remote_code=True)\n"
               "torch.load(f, weights_only=True)\nmodel.eval()\nre.compile('x')\n")
    assert len(_violations(planted, "planted")) == 11  # the last three lines are fine


def test_nothing_evaluates_text_or_unpickles():
    sources = list(_sources())
    assert len(sources) > 40  # tdw, the families, the templates and the dashboards
    found = [v for source, where in sources for v in _violations(source, where)]
    assert not found, "\n".join(found)


def test_imported_series_load_no_pickles_nor_remote_code():
    """Families that import Hugging Face checkpoints go through transformers' loader; its
    fallback for ``.bin`` weights must keep ``torch.load(weights_only=True)``."""
    modeling_utils = pytest.importorskip("transformers.modeling_utils")
    default = inspect.signature(modeling_utils.load_state_dict).parameters["weights_only"]
    assert default.default is True


# ------------------------------------------------------------------- the job API
def _train(**changes) -> tuple[str, dict]:
    params = {"family": FAMILY, "params": {"p": 7, "n_epochs": 4}, "schedule": "0-4/2",
              **changes}
    fam = get_family(FAMILY)
    return variant_id(fam, fam.resolve({"p": 7, "n_epochs": 4})), params


@pytest.mark.parametrize("kind, request_, error, message", [
    ("train", _train(**{"family; import os": "x"}), JobError, "has no parameter"),
    ("train", _train(store="/somewhere/else"), JobError, "has no parameter 'store'"),
    ("train", _train(job_id=7), JobError, "has no parameter 'job_id'"),
    ("train", _train(params="{'p': 7}"), JobError, "'params' must be of type dict"),
    ("train", _train(force="yes"), JobError, "'force' must be of type bool"),
    ("train", _train(schedule=5), JobError, "'schedule' must be of type str"),
    ("train", _train(params={"p": 7.0, "lr": float("nan")}), JobError, "plain JSON"),
    ("train", _train(params={"p": 8}), ParameterError, "must be prime"),
    ("train", _train(params={"p": "7; import os"}), ParameterError, "not a valid int"),
    ("train", _train(params={"__class__": 1}), UnknownNameError, "unknown parameter"),
    ("train", _train(family="__import__('os')"), UnknownNameError, "unknown family"),
    ("train", _train(schedule="0-99999999999/1"), ScheduleError, "past the end"),
    ("train", _train(device="tpu"), ParameterError, "not a torch device"),
    ("train", ("modulo_addition_1l/p11-ms999-ds598", _train()[1]), JobError,
     "has the parameters of"),
    ("analyze", ("x", {"variant": "../../etc"}), UnknownNameError, "unknown variant"),
    ("analyze", ("x", {"variant": "x", "workers": True}), JobError,
     "'workers' must be of type int"),
    ("../dashboards/workbench", ("x", {}), JobError, "is not installed"),
], ids=["code as a name", "runner's store", "runner's job id", "params as text",
        "force as text", "schedule as a number", "NaN", "non-prime", "code as a value",
        "dunder parameter", "code as a family", "schedule past the end", "unknown device",
        "another variant", "variant path", "workers as bool", "template path"])
def test_the_job_api_refuses_before_anything_is_recorded(store, kind, request_, error,
                                                         message):
    variant, parameters = request_
    before = snapshot(store.root)
    with pytest.raises(error, match=re.escape(message)):
        jobs.submit(store, kind, variant, parameters)
    assert snapshot(store.root) == before  # no job row, no jobs/ folder, no notebook


def test_papermill_writes_parameter_names_as_code_so_valid_ones_alone_pass(store):
    from papermill.translators import PythonTranslator

    # why names are checked: papermill injects them verbatim as Python source
    assert "x; import os = 1" in PythonTranslator.codify({"x; import os": 1})
    variant, parameters = _train()
    assert check_parameters(store, "train", variant, parameters) is None


# --------------------------------------------------------------- path traversal
_ESCAPING_REFS = ["../../etc", "modulo_addition_1l/../../x", "/etc/passwd", "p7\x00",
                  "..", ".", "variants/../catalog.sqlite", "~", "%2e%2e%2f", "", " ",
                  "modulo_addition_1l/p7-ms999-ds598/../.."]


@pytest.fixture
def with_variant(store: Store) -> Store:
    fam = get_family(FAMILY)
    store.ensure_variant(fam, fam.resolve({"p": 7, "n_epochs": 4}), "0-4/2", 4)
    return store


@pytest.mark.parametrize("ref", _ESCAPING_REFS)
def test_variant_references_cannot_leave_the_catalog(with_variant, ref):
    before = snapshot(with_variant.root)
    with pytest.raises(UnknownNameError, match="unknown variant"):
        with_variant.variant(ref)
    with pytest.raises(UnknownNameError, match="unknown variant"):
        Variant(ref, with_variant)
    assert snapshot(with_variant.root) == before


@pytest.fixture(scope="module")
def two_variants(tmp_path_factory) -> Store:
    store = Store(tmp_path_factory.mktemp("refs") / "store")
    fam = get_family(FAMILY)
    for seed in (999, 1):
        store.ensure_variant(fam, fam.resolve({"p": 7, "model_seed": seed}), "0-4/2", 4)
    return store


@settings(max_examples=300, deadline=None)
@given(ref=st.one_of(st.text(max_size=40), st.sampled_from(_ESCAPING_REFS)))
def test_any_reference_names_a_catalogued_variant_inside_the_store_or_none(two_variants, ref):
    try:
        record = two_variants.variant(ref)
    except UnknownNameError:
        return
    assert record.id in {v.id for v in two_variants.variants()}
    folder = two_variants.path(record.folder).resolve()
    assert folder.is_relative_to(two_variants.root.resolve() / "variants")


@pytest.mark.parametrize("args, message", [
    (["variants", "../../etc"], "unknown variant '../../etc'"),
    (["analyze", "/etc/passwd"], "unknown variant '/etc/passwd'"),
    (["export", "modulo_addition_1l/../../x", "{out}.html"], "unknown variant"),
    (["export", "p7", "{out}.gif", "--view", "../../etc/passwd"], "unknown view"),
    (["analyze", "p7", "--analyzers", "../../x"], "unknown analyzer"),
    (["jobs", "show", "0"], "no job 0"),
], ids=["variants", "analyze", "export variant", "export view", "analyzer", "job id"])
def test_cli_names_cannot_leave_the_store(with_variant, tmp_path, capsys, args, message):
    before = snapshot(with_variant.root)
    args = [a.format(out=tmp_path / "out") for a in args]
    assert main(["--store", str(with_variant.root), *args]) == 2
    assert message in capsys.readouterr().err
    assert snapshot(with_variant.root) == before and not list(tmp_path.glob("out*"))


# ------------------------------------------------------------ text shown as text
_MARKUP = "<img src=x onerror=alert(1)>"


def test_job_errors_show_as_text_to_every_visitor(store):
    """The job list is shared by every visitor; an error quoting typed text must not
    become markup in someone else's page."""
    from tdw.store.jobs import JobRecord
    from tdw.ui.jobs import JobRow

    record = JobRecord(id=1, kind="train", variant="v", state="failed", params={},
                       progress=0, total=0, message=_MARKUP, pid=None, kernel_pid=None,
                       cancel_requested=0, notebook=None, log=None, error=_MARKUP,
                       created=0.0, started=None, progress_started=None, progress_at_start=0,
                       finished=None, updated=0.0)
    shown = JobRow(store, record).status.object
    assert "<img" not in shown and shown.count("&lt;img") == 2


def test_a_typed_schedule_is_echoed_as_text():
    from tdw.ui.schedule_editor import ScheduleEditor

    editor = ScheduleEditor()
    editor.text.value = _MARKUP
    assert editor.schedule is None
    assert "<img" not in editor.status.object and "&lt;img" in editor.status.object
