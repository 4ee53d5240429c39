"""The one door to ``shared/testdata``: skip when absent, fail under CI=true."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.shared_data import SHARED_DIR_VARIABLE, shared_path


def test_present_data_is_returned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "testdata" / "clips").mkdir(parents=True)
    (tmp_path / "testdata" / "clips" / "manifest.tsv").write_text("file\n")
    monkeypatch.setenv(SHARED_DIR_VARIABLE, str(tmp_path))
    assert shared_path("clips") == tmp_path / "testdata" / "clips"
    assert shared_path("clips", "manifest.tsv").is_file()


@pytest.mark.parametrize("make_empty", [False, True])
def test_absent_data_skips_with_what_is_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                make_empty: bool) -> None:
    if make_empty:
        (tmp_path / "testdata" / "clips").mkdir(parents=True)
    monkeypatch.setenv(SHARED_DIR_VARIABLE, str(tmp_path))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"needs \.\./shared/testdata/clips .*"
                                                    r"shared/README\.md"):
        shared_path("clips")


def test_absent_data_fails_under_ci(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SHARED_DIR_VARIABLE, str(tmp_path / "nowhere"))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        shared_path("clips")
