"""`models pull`: a hub model fetched once, then found offline; failures name the fix."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from monitor.classify.encoder import ModelMissing, pull, resolve
from tests.support.http import LocalServer, Recorded, Reply, local_server

COMMIT = "3f" * 20
FILES = {
    "config.json": b'{"model_type": "bert", "hidden_size": 8}',
    "model.safetensors": b"not really weights, but bytes with a known hash",
    "vocab.txt": b"[PAD]\n[UNK]\n",
    "pytorch_model.bin": b"a pickle: never fetched",
}


def serve_repo(hub: LocalServer, repo: str) -> None:
    """The Hugging Face Hub's API as huggingface_hub reads it: revision, tree, files."""
    siblings = [{"rfilename": name} for name in FILES]
    hub.route(
        "GET",
        f"/api/models/{repo}/revision/main",
        Reply(200, {"id": repo, "sha": COMMIT, "siblings": siblings}),
    )
    tree = [
        {"type": "file", "path": name, "size": len(body), "oid": hashlib.sha1(body).hexdigest()}
        for name, body in FILES.items()
    ]
    hub.route("GET", f"/api/models/{repo}/tree/{COMMIT}", Reply(200, tree))
    for name, body in FILES.items():
        headers = {"ETag": f'"{hashlib.sha256(body).hexdigest()}"', "X-Repo-Commit": COMMIT}
        for method in ("HEAD", "GET"):
            hub.route(method, f"/{repo}/resolve/{COMMIT}/{name}", Reply(200, body, headers))


def test_a_pulled_model_is_then_found_offline_and_versioned_by_its_weights(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with local_server() as hub:
        serve_repo(hub, "acme/school-offensive")
        directory, version = pull("acme/school-offensive", tmp_path, hub.base_url)
        fetched = {Path(r.path).name for r in hub.requests if r.method == "GET"}
    weights = hashlib.sha256(FILES["model.safetensors"]).hexdigest()
    assert version == f"acme/school-offensive@{weights[:12]}"
    assert (directory / "vocab.txt").read_bytes() == FILES["vocab.txt"]
    assert "pytorch_model.bin" not in fetched  # pickled weights are never downloaded
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert resolve("acme/school-offensive", cache_dir=tmp_path) == (directory, version)


def test_an_unknown_model_is_one_line_naming_what_to_check(tmp_path: Path) -> None:
    def missing(request: Recorded) -> Reply:
        return Reply(404, {"error": "Repository not found"})

    with local_server() as hub:
        hub.route("GET", "/api/models/acme/nope/revision/main", missing)
        with pytest.raises(ModelMissing) as caught:
            pull("acme/nope", tmp_path, hub.base_url)
    message = str(caught.value)
    assert message.startswith("could not download 'acme/nope':") and "\n" not in message
    assert "check the name on huggingface.co" in message


def test_the_command_pulls_into_the_services_models_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from monitor.cli.app import main

    with local_server() as hub:
        serve_repo(hub, "acme/school-offensive")
        argv = ["--demo", "--state-dir", str(tmp_path), "models", "pull", "acme/school-offensive"]
        assert main([*argv, "--endpoint", hub.base_url]) == 0
    out = capsys.readouterr().out
    assert f"into {tmp_path / 'models' / 'models--acme--school-offensive'}" in out
    assert '[classifier] model = "acme/school-offensive"' in out


def test_the_command_fails_in_one_line_when_the_hub_cannot_be_reached(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    from monitor.cli.app import main

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    argv = [
        "--demo",
        "--state-dir",
        str(tmp_path),
        "models",
        "pull",
        "acme/x",
        "--endpoint",
        closed,
    ]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("orm-monitor: could not download 'acme/x':") and "\n" not in err
