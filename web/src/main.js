// The portal: sign in, see my desktops, connect, release, sign out (docs/portal.md).
//
// The token lives in sessionStorage (this tab only, gone when it closes) and is never written anywhere
// else; the password is never kept. Every element is built with textContent: nothing the broker sends
// is ever parsed as HTML.
import * as api from "./api.js";
import { PROTOCOLS, SESSION_ENDED, SIGNED_OUT, duration, signInProblem, stateOf } from "./text.js";

const SESSION_KEY = "vdi-portal-session";
const REFRESH_STARTING_MS = 10_000; // while a desktop is starting, its card is refreshed this often

const $ = (id) => document.getElementById(id);

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name === "text") node.textContent = value;
    else if (name === "className") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  node.append(...children.filter(Boolean));
  return node;
}

// --- the session (token, who, when it ends) ----------------------------------------------------------------

let session = null;
let expiryTimer = 0;

function loadSession() {
  try {
    const stored = JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
    if (stored && stored.token && stored.expiresAt * 1000 > Date.now()) return stored;
  } catch {
    // a damaged entry is no session
  }
  sessionStorage.removeItem(SESSION_KEY);
  return null;
}

function startSession(value) {
  session = value;
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(value));
  clearTimeout(expiryTimer);
  const left = value.expiresAt * 1000 - Date.now();
  expiryTimer = setTimeout(() => endSession(SESSION_ENDED), Math.min(Math.max(left, 0), 2 ** 31 - 1));
}

function endSession(notice) {
  session = null;
  say("");
  sessionStorage.removeItem(SESSION_KEY);
  clearTimeout(expiryTimer);
  stopWaiting();
  clearTimeout(refreshTimer);
  showSignIn(notice);
}

/** A call made with the token: a refused token (expired, revoked) sends the user back to sign in. */
async function withToken(call) {
  try {
    return await call(session.token);
  } catch (error) {
    if (error instanceof api.ApiError && error.status === 401) {
      endSession(SESSION_ENDED);
      return null;
    }
    throw error;
  }
}

// --- sign in -------------------------------------------------------------------------------------------------

function showSignIn(notice) {
  $("desktops-view").hidden = true;
  $("account").hidden = true;
  $("sign-in-view").hidden = false;
  $("sign-in-error").hidden = true;
  $("password").value = "";
  const box = $("sign-in-notice");
  box.textContent = notice || "";
  box.hidden = !notice;
  document.title = "Sign in - Virtual desktops";
  loadDomains();
  if (notice) $("sign-in-heading").focus();
  else $("user-name").focus();
}

let domainsLoaded = false;

async function loadDomains() {
  if (domainsLoaded) return;
  try {
    const { body } = await api.listedDomains();
    $("domain-list").replaceChildren(...body.domains.map((name) => element("option", { value: name })));
    domainsLoaded = true;
  } catch {
    // the list is a convenience: the field stays free to type in
  }
}

function showSignInError(message, field) {
  const box = $("sign-in-error");
  box.textContent = message;
  box.hidden = false;
  for (const input of $("sign-in-form").querySelectorAll("input")) input.removeAttribute("aria-invalid");
  if (field) {
    field.setAttribute("aria-invalid", "true");
    field.setAttribute("aria-errormessage", "sign-in-error");
  }
  box.focus();
}

async function onSignIn(event) {
  event.preventDefault();
  const user = $("user-name");
  const password = $("password");
  const domain = $("domain");
  if (!user.value.trim()) return showSignInError("Enter your user name.", user);
  if (!password.value) return showSignInError("Enter your password.", password);
  const button = $("sign-in-button");
  button.disabled = true;
  button.textContent = "Signing in…";
  try {
    const { body } = await api.signIn(user.value.trim(), password.value, domain.value.trim());
    password.value = "";
    startSession({
      token: body.token,
      expiresAt: body.expires_at,
      user: user.value.trim(),
      domain: domain.value.trim(),
    });
    showDesktops(body, { focus: true });
  } catch (error) {
    // Not kept after a refusal; kept in the field when nothing was wrong with it (busy, unreachable).
    if (!(error instanceof api.ApiError) || error.status === 401 || error.code === "TOO_MANY_ATTEMPTS") {
      password.value = "";
    }
    showSignInError(signInProblem(error));
  } finally {
    button.disabled = false;
    button.textContent = "Sign in";
  }
}

// --- my desktops ---------------------------------------------------------------------------------------------

let desktops = [];

function say(message) {
  $("desktops-status").textContent = message;
}

function showProblem(message) {
  const box = $("desktops-error");
  box.textContent = message;
  box.hidden = !message;
  if (message) box.focus();
}

function showDesktops(offer, { focus = false } = {}) {
  $("sign-in-view").hidden = true;
  $("sign-in-notice").hidden = true;
  $("desktops-view").hidden = false;
  $("account").hidden = false;
  $("signed-in-as").textContent = session.domain
    ? `Signed in as ${session.user} (${session.domain})`
    : `Signed in as ${session.user}`;
  document.title = "My desktops - Virtual desktops";
  showProblem("");
  render(offer);
  if (focus) $("desktops-heading").focus();
}

function render(offer) {
  desktops = offer.desktops || [];
  $("cards").replaceChildren(...desktops.map(card));
  $("cards").hidden = desktops.length === 0;
  stopWaiting();
  if (desktops.length === 0) {
    if (offer.retry_after) startWaiting(offer.message, offer.retry_after);
    else showEmpty(offer.message);
  }
  clearTimeout(refreshTimer);
  if (desktops.some((desktop) => desktop.status === "starting")) {
    refreshTimer = setTimeout(refresh, REFRESH_STARTING_MS);
  }
}

let refreshTimer = 0;

async function refresh() {
  try {
    const result = await withToken(api.myDesktops);
    if (result) render(result.body);
  } catch {
    refreshTimer = setTimeout(refresh, REFRESH_STARTING_MS);
  }
}

function card(desktop) {
  const [stateLabel, stateClass] = stateOf(desktop.status);
  const headingId = `desktop-${desktop.id}-name`;
  const connection = element("div", { className: "connection", id: `desktop-${desktop.id}-connection` });
  const usable = stateClass !== "unavailable";
  const actions = element(
    "div",
    { className: "actions" },
    element("button", {
      type: "button",
      className: "button primary",
      text: "Connect",
      "aria-label": `Connect to ${desktop.name}`,
      disabled: !usable,
      onclick: (event) => onConnect(desktop, event.currentTarget, connection),
    }),
    desktop.can_release === false
      ? null
      : element("button", {
          type: "button",
          className: "button secondary",
          text: "Release",
          "aria-label": `Release ${desktop.name}`,
          onclick: () => askRelease(desktop),
        }),
  );
  return element(
    "li",
    { className: "card", "data-desktop": desktop.id },
    element("h2", { id: headingId, text: desktop.name }),
    element(
      "p",
      { className: "facts" },
      element("span", { className: `state ${stateClass}`, text: stateLabel }),
      element("span", { className: "protocol", text: PROTOCOLS[desktop.protocol] || desktop.protocol }),
    ),
    actions,
    connection,
  );
}

function showEmpty(message) {
  const box = $("waiting");
  $("waiting-message").textContent = message || "You have no desktop right now.";
  $("countdown").textContent = "";
  $("try-again").textContent = "Get a desktop";
  box.hidden = false;
}

// --- nothing available yet: count down, then ask again ----------------------------------------------------------

let waitTimer = 0;
let waitUntil = 0;

function startWaiting(message, seconds) {
  $("waiting-message").textContent = message || "No desktop is available right now.";
  $("try-again").textContent = "Try again now";
  $("waiting").hidden = false;
  waitUntil = Date.now() + seconds * 1000;
  tick();
}

function tick() {
  const left = Math.ceil((waitUntil - Date.now()) / 1000);
  if (left <= 0) {
    $("countdown").textContent = "Trying again…";
    offerAgain();
    return;
  }
  $("countdown").textContent = `Trying again in ${duration(left)}.`;
  waitTimer = setTimeout(tick, (waitUntil - Date.now()) % 1000 || 1000); // on the second's boundary
}

function stopWaiting() {
  clearTimeout(waitTimer);
  $("waiting").hidden = true;
}

async function offerAgain() {
  clearTimeout(waitTimer);
  const button = $("try-again");
  button.disabled = true;
  try {
    const result = await withToken(api.offerAgain);
    if (!result) return;
    render(result.body);
    if (result.body.desktops.length) {
      say(result.body.desktops.length === 1 ? "A desktop is ready for you." : "Your desktops are ready.");
      $("desktops-heading").focus();
    }
  } catch (error) {
    showProblem(problemText(error, "Could not ask for a desktop"));
    startWaiting($("waiting-message").textContent, error.retryAfter || 30);
  } finally {
    button.disabled = false;
  }
}

function problemText(error, what) {
  if (error.status === 0) return `${what}: the broker cannot be reached. Check your network connection.`;
  return `${what}: ${error.message}`;
}

// --- connect ---------------------------------------------------------------------------------------------------

function copyRow(label, value) {
  const text = element("code", { text: value });
  const button = element("button", {
    type: "button",
    className: "button small secondary",
    text: "Copy",
    "aria-label": `Copy ${label.toLowerCase()}`,
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(value);
        say(`${label} copied.`);
      } catch {
        getSelection().selectAllChildren(text);
        say(`${label} selected: copy it with your keyboard.`);
      }
    },
  });
  return element("div", { className: "copy-row" }, element("dt", { text: label }), element("dd", {}, text, button));
}

function showConnection(box, desktop, details) {
  if (details.protocol === "vnc" || details.protocol === "ssh") {
    const ssh = details.protocol === "ssh";
    const user = ssh && details.username ? `${encodeURIComponent(details.username)}@` : "";
    const url = `${details.protocol}://${user}${details.host}:${details.port}`;
    box.replaceChildren(
      element("a", {
        className: "button primary",
        href: url,
        text: ssh ? "Open in your SSH app" : "Open in your VNC app",
        title: url,
      }),
      element("dl", {}, copyRow("Host", details.host), copyRow("Port", String(details.port)),
        ssh && details.username ? copyRow("User", details.username) : null),
    );
    say(`Connection details for ${desktop.name} are shown below its name.`);
    box.querySelector("a").focus();
  }
}

async function onConnect(desktop, button, box) {
  // HTML5 opens in a new tab: opened now, while the click still counts, and pointed at the desktop below.
  const viewer = desktop.protocol === "html5" ? window.open("", "_blank") : null;
  button.disabled = true;
  showProblem("");
  try {
    const result = await withToken((token) => api.connect(token, desktop.id));
    if (!result) return;
    if (result.kind === "file") {
      const link = element("a", { href: URL.createObjectURL(result.blob), download: result.filename });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
      box.replaceChildren(element("p", { text: `${result.filename} was downloaded: open it to connect.` }));
      say(`${result.filename} was downloaded. Open it with your Remote Desktop app to connect.`);
    } else if (result.details.url) {
      if (viewer) {
        viewer.opener = null;
        viewer.location.href = result.details.url;
      }
      say(`${desktop.name} opens in a new tab.`);
    } else {
      showConnection(box, desktop, result.details);
    }
  } catch (error) {
    if (viewer) viewer.close();
    if (error.status === 409) markUnavailable(desktop);
    showProblem(problemText(error, `Could not connect to ${desktop.name}`));
  } finally {
    button.disabled = false;
  }
}

function markUnavailable(desktop) {
  const item = $("cards").querySelector(`[data-desktop="${desktop.id}"] .state`);
  if (item) {
    item.textContent = "Unavailable";
    item.className = "state unavailable";
  }
}

// --- release -----------------------------------------------------------------------------------------------------

let releasing = null;

function askRelease(desktop) {
  releasing = desktop;
  $("release-title").textContent = `Release ${desktop.name}?`;
  $("release-text").textContent =
    "It goes back to the pool and may be given to someone else. Save your work on it first.";
  $("release-dialog").showModal();
  $("release-cancel").focus();
}

async function onReleaseConfirmed() {
  const desktop = releasing;
  $("release-dialog").close();
  if (!desktop) return;
  try {
    const result = await withToken((token) => api.release(token, desktop.id));
    if (!result) return;
    const remaining = desktops.filter((other) => other.id !== desktop.id);
    render({ desktops: remaining, message: remaining.length ? null : "You have no desktop now." });
    say(`${desktop.name} was released.`);
    $("desktops-heading").focus();
  } catch (error) {
    showProblem(problemText(error, `Could not release ${desktop.name}`));
  }
}

// --- sign out ------------------------------------------------------------------------------------------------

async function onSignOut() {
  const token = session && session.token;
  endSession(SIGNED_OUT);
  if (token) {
    try {
      await api.signOut(token);
    } catch {
      // the token is gone from this tab; it expires by itself
    }
  }
}

// --- start ---------------------------------------------------------------------------------------------------

async function start() {
  $("sign-in-form").addEventListener("submit", onSignIn);
  $("sign-out").addEventListener("click", onSignOut);
  $("try-again").addEventListener("click", offerAgain);
  $("release-confirm").addEventListener("click", onReleaseConfirmed);
  $("release-cancel").addEventListener("click", () => $("release-dialog").close());
  $("release-dialog").addEventListener("close", () => {
    releasing = null;
  });
  const stored = loadSession();
  if (!stored) return showSignIn(null);
  startSession(stored);
  try {
    const result = await withToken(api.myDesktops);
    if (!result) return;
    showDesktops(result.body, { focus: true });
    if (result.body.desktops.length === 0) await offerAgain();
  } catch (error) {
    showDesktops({ desktops: [] });
    showProblem(problemText(error, "Could not load your desktops"));
  }
}

start();
