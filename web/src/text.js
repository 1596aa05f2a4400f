// What the portal says: every message a person reads, in one place.

const STATES = {
  running: ["Running", "running"],
  starting: ["Starting", "starting"],
  stopped: ["Stopped", "stopped"],
  suspended: ["Stopped", "stopped"],
};

/** [label, css modifier] of a desktop's status: running, starting, stopped or unavailable. */
export function stateOf(status) {
  return STATES[status] || ["Unavailable", "unavailable"];
}

export const PROTOCOLS = { rdp: "Remote Desktop (RDP)", vnc: "VNC", ssh: "SSH", html5: "In the browser" };

export function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return s === 1 ? "1 second" : `${s} seconds`;
  const minutes = Math.ceil(s / 60);
  return minutes === 1 ? "1 minute" : `${minutes} minutes`;
}

/** The sign-in page's message for a failed sign-in (ApiError). */
export function signInProblem(error) {
  if (typeof error.status !== "number") return "Something went wrong in this page. Reload it and try again.";
  if (error.status === 0) return "The broker cannot be reached. Check your network connection and try again.";
  if (error.status === 401) {
    return "The user name, password or domain is not right. Check them and try again.";
  }
  if (error.code === "LOGIN_BUSY") {
    return `Too many sign-ins with this name at this moment. Try again in ${duration(error.retryAfter ?? 1)}.`;
  }
  if (error.status === 429) {
    return `Too many failed sign-ins with this name. For your account's safety, signing in is blocked for now: try again in ${duration(error.retryAfter ?? 300)}.`;
  }
  if (error.status === 503) {
    // The broker's words name the domain and say whether to wait or to ask the administrator.
    return error.message && error.code === "SERVICE_UNAVAILABLE"
      ? error.message
      : "The sign-in service cannot reach your organisation's directory right now. Try again in a minute.";
  }
  if (error.status === 400) return "Check the user name, password and domain: one of them is not valid.";
  return `Something went wrong on the broker's side (error ${error.status}). Try again in a moment.`;
}

export const SESSION_ENDED = "Your session has ended (it expired, or you signed out elsewhere). Sign in again.";
export const SIGNED_OUT = "You have signed out.";
