"""tdw.ui.links.Link: what a dashboard URL's query string asks for, and back."""

from __future__ import annotations

import doctest

import pytest

from tdw.ui import links
from tdw.ui.links import LINK_KEYS, Link


def test_docstring_examples():
    result = doctest.testmod(links)
    assert result.attempted > 0 and result.failed == 0


def test_every_key_is_read_and_written_back_in_order():
    link = Link.parse("?align=transition&epoch=1500&variants=fam/a, fam/b,&variant=fam/c"
                      "&tab=Explore")
    assert link == Link(tab="Explore", variant="fam/c", variants=("fam/a", "fam/b"),
                        epoch=1500, align="transition")
    assert link.query() == ("tab=Explore&variant=fam/c&variants=fam/a,fam/b&epoch=1500"
                            "&align=transition")
    assert Link.parse(link.query()) == link


@pytest.mark.parametrize("query", ["", "?", "token=abc", "variant=&epoch=", "token=x&tab="])
def test_an_empty_query_or_jupyters_token_asks_for_nothing(query):
    assert Link.parse(query) == Link() and Link().query() == ""


def test_what_cannot_be_read_is_named_and_the_rest_kept():
    link = Link.parse("variant=p59&epoch=1.5e3&colour=red")
    assert link.variant == "p59" and link.epoch is None
    assert link.problems == (
        "the link's epoch '1.5e3' is not a whole number (e.g. epoch=1500)",
        f"the link's 'colour' is not one tdw reads; a link takes {', '.join(LINK_KEYS)}")
    assert link.with_(tab="Explore").problems == ()  # a link written by the page is clean


def test_a_value_is_encoded_where_a_url_needs_it():
    link = Link(variant="fam/p59 ms&1")
    assert link.query() == "variant=fam/p59+ms%261"
    assert Link.parse(link.query()).variant == "fam/p59 ms&1"
