"""The page's routes, without a browser: what / and /web/ serve, WEB_UI=0, and the key."""

import re

import pytest
from fastapi.testclient import TestClient

from coordinator.config.settings import Settings
from coordinator.server.app import create_app
from coordinator.server.web.router import STATIC_DIR

KEY = "page-key_1"
IMPORT = re.compile(r"""(?:import|from)\s*(?:[^"']*?\bfrom\s*)?["'](\./[^"']+)["']|new URL\("(\./[^"]+)\"""")


def _client(model_env, runtime, **changes):
    settings = Settings(_env_file=None, **{k.lower(): v for k, v in model_env.items()}, **changes)
    return TestClient(create_app(settings, runtime=runtime))


def test_the_page_is_served_at_the_root_with_a_strict_content_security_policy(client):
    response = client.get("/")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy
    assert '<script type="module" src="/web/js/main.js">' in response.text


@pytest.mark.parametrize("path", ["/web/js/main.js", "/web/js/player-worklet.js", "/web/style.css"])
def test_the_static_files_are_served_with_their_types(client, path):
    response = client.get(path)
    assert response.status_code == 200
    expected = "text/css" if path.endswith(".css") else "javascript"
    assert expected in response.headers["content-type"]


def test_a_missing_static_file_is_a_404_in_openai_shape(client):
    response = client.get("/web/js/nothing.js")
    assert response.status_code == 404 and "message" in response.json()["error"]


def test_every_module_the_page_imports_is_in_the_package():
    imports = [
        (script, match.group(1) or match.group(2))
        for script in STATIC_DIR.glob("js/*.js")
        for match in IMPORT.finditer(script.read_text())
    ]
    assert len(imports) > 10  # the pattern finds them
    for script, target in imports:
        assert (script.parent / target).is_file(), f"{script.name} imports missing {target}"


def test_web_ui_off_serves_no_page(model_env, runtime):
    with _client(model_env, runtime, web_ui=False) as client:
        assert client.get("/").status_code == 404
        assert client.get("/web/js/main.js").status_code == 404
        assert client.get("/v1/status").status_code == 200  # the API itself is unchanged


def test_with_a_key_the_page_is_open_but_the_api_behind_it_is_not(model_env, runtime):
    with _client(model_env, runtime, api_key=KEY) as client:
        assert client.get("/").status_code == 200
        assert client.get("/web/js/api.js").status_code == 200
        assert client.get("/v1/status").status_code == 401
        # Only the page's own paths are open: nothing reaches the API through them.
        assert client.get("/web/../v1/status").status_code in (401, 404)
        assert client.get("/v1/status", headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
