// The broker's end-user API (/client/v1, same origin): one function per call, errors as ApiError.

export class ApiError extends Error {
  constructor(status, body, retryAfter) {
    super((body && body.error_message) || `HTTP ${status}`);
    this.status = status; // 0: the broker could not be reached
    this.code = (body && body.error_status) || "";
    this.retryAfter = retryAfter; // seconds, or null
  }
}

function retryAfterOf(response) {
  const value = Number.parseInt(response.headers.get("Retry-After") || "", 10);
  return Number.isFinite(value) && value >= 0 ? value : null;
}

async function request(method, path, { token, body } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit", // the token is the only credential, sent on purpose
      cache: "no-store",
      redirect: "error",
    });
  } catch {
    throw new ApiError(0, null, null);
  }
  if (!response.ok) {
    let parsed = null;
    try {
      parsed = await response.json();
    } catch {
      parsed = null;
    }
    throw new ApiError(response.status, parsed, retryAfterOf(response));
  }
  return response;
}

async function json(method, path, options) {
  const response = await request(method, path, options);
  return { body: await response.json(), retryAfter: retryAfterOf(response) };
}

export const listedDomains = () => json("GET", "/client/v1/domains");

export const signIn = (userLogin, password, domain) => {
  const body = { user_login: userLogin, password };
  if (domain) body.domain = domain;
  return json("POST", "/client/v1/login", { body });
};

export const myDesktops = (token) => json("GET", "/client/v1/desktops", { token });

export const offerAgain = (token) => json("POST", "/client/v1/offer", { token });

export const release = (token, id) => json("POST", `/client/v1/desktops/${id}/release`, { token });

export const signOut = (token) => json("POST", "/client/v1/logout", { token });

/** RDP: {kind: "file", blob, filename}; VNC, SSH and HTML5: {kind: "details", details}. */
export async function connect(token, id) {
  const response = await request("POST", `/client/v1/desktops/${id}/connect`, { token });
  const type = response.headers.get("Content-Type") || "";
  if (type.startsWith("application/json")) return { kind: "details", details: await response.json() };
  return {
    kind: "file",
    blob: await response.blob(),
    filename: filenameOf(response.headers.get("Content-Disposition")),
  };
}

export function filenameOf(disposition) {
  const match = /filename="([^"]+)"/.exec(disposition || "");
  return match ? match[1] : "desktop.rdp";
}
