"""The forwarder's header parser gives exactly what http.client's e-mail parser gives, only faster."""

import http.client
import io

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.hot_path.http_headers import FastHeadersResponse, parse_headers

NGINX = (b"Server: nginx/1.22.1\r\nDate: Tue, 01 Dec 2026 11:49:30 GMT\r\nContent-Type: application/json\r\n"
         b"Content-Length: 62\r\nConnection: keep-alive\r\nX-Multi: a\r\nX-Multi: b\r\n\r\n")
ODD = [b"A: 1\r\n folded\r\nB:2\r\n\r\n", b"NoColon\r\n\r\n", b"\r\n", b"Weird : x\r\n\r\n", b"X:   kept   \r\n\r\n",
       b"Caf\xe9: ol\xe9\r\n\r\n", b"A:\r\n\r\n", b"A:\tb\r\n\n", b"From x\r\n\r\n", b"A: 1\nB: 2\n\n"]


def same_as_http_client(raw):
    ours, theirs = parse_headers(io.BytesIO(raw)), http.client.parse_headers(io.BytesIO(raw))
    assert type(ours) is type(theirs)
    assert ours.items() == theirs.items()
    assert [type(d) for d in ours.defects] == [type(d) for d in theirs.defects]
    assert ours.get_payload() == theirs.get_payload()


def test_a_provider_s_ordinary_headers_and_every_odd_case_parse_as_http_client_parses_them():
    for raw in [NGINX, *ODD]:
        same_as_http_client(raw)


header_line = st.tuples(st.text(st.characters(min_codepoint=1, max_codepoint=255, exclude_characters="\r\n"),
                                 max_size=12),
                        st.sampled_from([": ", ":", " : ", "", ":\t"]),
                        st.text(st.characters(min_codepoint=1, max_codepoint=255, exclude_characters="\r\n"),
                                max_size=20),
                        st.sampled_from(["\r\n", "\n", "\r\n "]))


@settings(max_examples=300, deadline=None)
@given(st.lists(header_line, max_size=8))
def test_any_header_block_parses_as_http_client_parses_it(lines):
    raw = "".join(name + sep + value + end for name, sep, value, end in lines).encode("iso-8859-1") + b"\r\n"
    same_as_http_client(raw)


def test_the_response_class_reads_a_whole_answer():
    class Socket:
        def makefile(self, mode):
            return io.BytesIO(b"HTTP/1.1 202 Accepted\r\n" + NGINX.replace(b"62", b"2") + b"{}")

    response = FastHeadersResponse(Socket(), method="POST")
    response.begin()

    assert (response.status, response.getheader("content-type"), response.read()) == (202, "application/json", b"{}")
    assert response.headers.get_all("X-Multi") == ["a", "b"]
