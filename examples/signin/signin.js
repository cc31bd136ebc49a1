// The sign-in page: password, then code (with resend; or the code of an authenticator app),
// then "signed in as …", where an authenticator app can be set up, then sign out.
// The session lives in an HttpOnly cookie the script never sees; requests are same-origin, so
// the layer's CSRF check lets them through.
"use strict";

const $ = (id) => document.getElementById(id);
let challenge = null;

async function call(method, path, body) {
  const response = await fetch(path, {
    method,
    credentials: "same-origin",
    headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  let json = {};
  try { json = text ? JSON.parse(text) : {}; } catch (_) { /* not JSON */ }
  return { status: response.status, json };
}

// The first message of a DRF-style error body.
function problem(json) {
  if (typeof json.detail === "string") return json.detail;
  for (const messages of Object.values(json)) {
    if (Array.isArray(messages) && messages.length) return messages[0];
  }
  return "Something went wrong.";
}

function say(text, ok = false) {
  $("message").textContent = text;
  $("message").className = ok ? "ok" : "";
}

function show(step) {
  const steps = ["password-step", "code-step", "signed-in", "enroll-step", "recovery-step"];
  for (const id of steps) $(id).hidden = id !== step;
  const first = $(step).querySelector("input, button");
  if (first) first.focus();
}

// Back to the password step, forgetting the pending login.
function startOver() {
  challenge = null;
  $("code-step").reset();
  show("password-step");
}

// Shows who is signed in; `expected` when a login just succeeded, so that a session the browser
// did not keep (a Secure cookie over plain HTTP) is said, not silently dropped.
async function showUser(how, expected = false) {
  const me = await call("GET", "/api/me");
  if (me.status !== 200) {
    if (expected) say("Signed in, but this browser did not keep the session cookie.");
    show("password-step");
    return;
  }
  const name = [me.json.first_name, me.json.last_name].filter(Boolean).join(" ");
  $("who").textContent = name ? `${name} (${me.json.username})` : me.json.username;
  $("how").textContent = how || "";
  show("signed-in");
}

async function busy(form, work) {
  const buttons = form.querySelectorAll("button");
  buttons.forEach((b) => (b.disabled = true));
  try { await work(); } catch (_) { say("The server cannot be reached."); }
  buttons.forEach((b) => (b.disabled = false));
}

$("password-step").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.target;
  busy(form, async () => {
    const answer = await call("POST", "/api-auth/login/", {
      username: form.username.value,
      password: form.password.value,
    });
    if (answer.status !== 200) return say(problem(answer.json));
    form.password.value = "";
    say("");
    if (answer.json.challenge) {
      challenge = answer.json.challenge;
      const app = answer.json.method === "totp";
      $("code-hint").textContent = app
        ? "Enter the code from your authenticator app, or a recovery code."
        : "We sent you a one-time code.";
      $("resend").hidden = app;
      show("code-step");
    } else {
      await showUser(answer.json.method === "remembered" ? "No code needed: this device is remembered." : "", true);
    }
  });
});

$("code-step").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.target;
  busy(form, async () => {
    const answer = await call("POST", "/api-auth/verify-token/", {
      challenge,
      token: form.code.value.trim(),
      remember_device: form.remember.checked,
    });
    if (answer.status !== 200) return say(problem(answer.json));
    const remembered = form.remember.checked;
    form.reset();
    challenge = null;
    say("");
    await showUser(remembered ? "This device is remembered." : "", true);
  });
});

$("resend").addEventListener("click", () => {
  busy($("code-step"), async () => {
    const answer = await call("POST", "/api-auth/resend-token/", { challenge });
    if (answer.status !== 200) return say(problem(answer.json));
    if (answer.json.challenge) challenge = answer.json.challenge;
    say("A new code is on its way.", true);
  });
});

$("sign-out").addEventListener("click", () => {
  busy($("signed-in"), async () => {
    const answer = await call("POST", "/api-auth/logout/");
    // 401: the session had already ended (and the server cleared its cookie).
    if (answer.status !== 204 && answer.status !== 401) return say(problem(answer.json));
    say("Signed out.", true);
    show("password-step");
  });
});

// Authenticator app: a secret and its QR code, then the app's first code turns it on and
// answers the recovery codes, shown once.
$("setup-app").addEventListener("click", () => {
  busy($("signed-in"), async () => {
    const answer = await call("POST", "/api-auth/totp/setup/");
    if (answer.status !== 200) return say(problem(answer.json));
    const svg = new DOMParser().parseFromString(answer.json.qr_svg, "image/svg+xml");
    $("qr").replaceChildren(document.importNode(svg.documentElement, true));
    $("secret").textContent = answer.json.secret;
    say("");
    show("enroll-step");
  });
});

$("enroll-step").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.target;
  busy(form, async () => {
    const answer = await call("POST", "/api-auth/totp/confirm/", { token: form.code.value.trim() });
    if (answer.status !== 200) return say(problem(answer.json));
    form.reset();
    const items = answer.json.recovery_codes.map((code) => {
      const item = document.createElement("li");
      item.textContent = code;
      return item;
    });
    $("recovery-codes").replaceChildren(...items);
    say("");
    show("recovery-step");
  });
});

$("cancel-setup").addEventListener("click", () => {
  $("enroll-step").reset();
  say("");
  show("signed-in");
});

$("recovery-done").addEventListener("click", () => {
  $("recovery-codes").replaceChildren();
  say("Your authenticator app is on.", true);
  show("signed-in");
});

$("start-over").addEventListener("click", () => {
  say("");
  startOver();
});

showUser("").catch(() => {
  say("The server cannot be reached.");
  show("password-step");
});
