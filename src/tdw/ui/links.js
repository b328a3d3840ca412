// The page's address follows what the dashboard shows (tdw.ui.links.Address): the link's
// parameters are replaced by the model's query, others (Jupyter's token) kept, with
// history.replaceState so nothing reloads and Back is not filled with every move. Only on a
// Voila page: inside JupyterLab the address is Lab's own.

function render({ model, el }) {
  const onVoilaPage = () => /\/voila\/render\//.test(window.location.pathname);
  const apply = () => {
    if (!onVoilaPage()) return;
    const others = new URLSearchParams(window.location.search);
    for (const key of model.get("keys")) others.delete(key);
    // The query as the kernel wrote it (ids keep their "/"), then the address's others.
    const search = [model.get("query"), others.toString()].filter((part) => part).join("&");
    const address = window.location.pathname + (search ? `?${search}` : "") + window.location.hash;
    if (address !== window.location.pathname + window.location.search + window.location.hash) {
      window.history.replaceState(window.history.state, "", address);
    }
  };
  model.on("change:query", apply);
  apply();
  el.style.display = "none";
  return () => {
    try {
      model.off("change:query", apply);
    } catch (_err) {
      // Hosts without `off` drop their listeners with the view anyway.
    }
  };
}

export default { render };
