"""The end-user API (`/client/v1`): login, offered desktops, connection details, listed domains."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import StringConstraints

from chalicelib.schemas.common import OutModel, StrictModel

ClientLoginName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=256)]
ClientPassword = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
ClientDomain = Annotated[str, StringConstraints(strip_whitespace=True, max_length=253)]


class ClientLogin(StrictModel):
    user_login: ClientLoginName
    password: ClientPassword
    domain: ClientDomain | None = None


class ClientDesktopOut(OutModel):
    id: int
    name: str
    pool_id: int | None = None
    status: str
    protocol: str
    address: str | None = None
    port: int
    kiosk: bool | None = None  # present (true) when the client should connect at once, full screen
    can_release: bool = True  # false when the pool assignment says `prevent_release`


class ClientOfferOut(OutModel):
    """What a login offers, and what `POST /client/v1/offer` offers a signed-in user again."""

    desktops: list[ClientDesktopOut]
    message: str | None = None  # why nothing is offered, when nothing is
    retry_after: int | None = None  # seconds; also sent as the Retry-After header


class ClientLoginOut(ClientOfferOut):
    token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - the scheme's name, not a secret
    expires_at: int  # epoch seconds


class ClientDomainsOut(OutModel):
    """The login domains listed on the sign-in page: only those whose tenant chose to be listed."""

    domains: list[str]


class ClientDesktopsOut(OutModel):
    desktops: list[ClientDesktopOut]


class ClientConnectionOut(OutModel):
    """VNC, SSH and HTML5 connection details (RDP answers with a .rdp file instead)."""

    id: int
    name: str
    protocol: str
    host: str
    port: int
    username: str
    url: str | None = None
    # html5: the url opens the desktop until then (epoch seconds): open it at once
    url_expires_at: int | None = None
    options: dict[str, str | int | bool]


class ClientMessageOut(OutModel):
    message: str
