"""A local fake of GitHub's API for the admin tests, on 127.0.0.1."""

from tests.servers import FakeServer, Reply


class FakeGitHub(FakeServer):
    """GitHub's GET /user and ghcr.io's GET /token for one classic token.

    Serve both base URLs (GIMLET_GITHUB_API_URL and GIMLET_GHCR_URL) from
    this server. /user returns the scopes and the expiry header the way
    GitHub does ("2027-01-05 10:00:00 UTC"); any other token gets 401.
    """

    def __init__(self, *, token, expires_at, login="octocat"):
        super().__init__()
        self.token = token
        self.expires_at = expires_at
        self.login = login
        self.routes["/user"] = self.user
        self.routes["/token"] = Reply(200, body={"token": "registry-pull-token"})

    def user(self, handler):
        if handler.headers.get("Authorization") != f"Bearer {self.token}":
            return Reply(401, body={"message": "Bad credentials"})
        headers = {"X-OAuth-Scopes": "repo, write:packages"}
        if self.expires_at is not None:
            headers["GitHub-Authentication-Token-Expiration"] = (
                f"{self.expires_at:%Y-%m-%d %H:%M:%S} UTC"
            )
        return Reply(200, headers, {"login": self.login})

    def user_calls(self):
        return sum(1 for request in self.requests if request.path == "/user")
