import httpx

from tradelab_cli.client import ApiError
from tradelab_cli.render import format_problem


def test_problem_json_gives_title_and_detail() -> None:
    response = httpx.Response(
        422,
        json={"title": "Unprocessable Content", "detail": "The dataset is pending.", "status": 422},
        headers={"content-type": "application/problem+json"},
    )
    error = ApiError.of(response)
    assert (error.status, error.title, error.detail) == (
        422,
        "Unprocessable Content",
        "The dataset is pending.",
    )
    assert format_problem(error) == "Unprocessable Content: The dataset is pending."


def test_non_json_error_keeps_status_phrase_and_text() -> None:
    error = ApiError.of(httpx.Response(502, text="<html>bad gateway</html>"))
    assert format_problem(error) == "Bad Gateway: <html>bad gateway</html>"


def test_empty_or_repeated_detail_prints_the_title_once() -> None:
    assert format_problem(ApiError(404, "Not Found", "")) == "Not Found"
    assert format_problem(ApiError(404, "Not Found", "Not Found")) == "Not Found"
    assert format_problem(ApiError(500, "", "")) == "HTTP 500"
