// API keys: the list (name, prefix…last4, dates, budget, status), a create form that shows
// the new raw key once (it lives only in this render: navigating away drops it), and revoke
// with an in-page confirm step.

import { ApiError, del, get, post } from "../api.js";
import { field, h, toast, usd, when } from "../dom.js";
import { state } from "../state.js";

function keyStatus(key) {
  if (key.revoked) return "revoked";
  if (key.expires && key.expires * 1000 <= Date.now()) return "expired";
  return "active";
}

/** Select the text of an element so the user can copy it by hand. */
function selectText(el) {
  const range = document.createRange();
  range.selectNodeContents(el);
  const selection = getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
}

/** The box with the raw key, its Copy button and the warning. */
function keyOnce(created, onDone) {
  const code = h("code", { class: "key-once", tabindex: "0", "aria-label": "Your new API key" }, created.key);
  const copy = h("button", { type: "button", class: "primary" }, "Copy");
  const done = h("button", { type: "button" }, "Done");
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(created.key);
      toast("Key copied", "ok");
    } catch {
      selectText(code);
      code.focus();
      toast("Copying was not allowed: the key is selected, press Ctrl+C (⌘C) to copy it");
    }
  });
  done.addEventListener("click", onDone);
  return h(
    "section",
    { class: "card stack key-created", "aria-labelledby": "key-created-title", tabindex: "-1" },
    h("h2", { id: "key-created-title" }, `Key “${created.name}” created`),
    h("p", { class: "reason" }, "Copy it now: it won't be shown again. Store it like a password."),
    code,
    h("div", { class: "row" }, copy, done),
  );
}

function createForm(onCreated) {
  const name = h("input", { type: "text", name: "name", required: true, maxlength: 120, autocomplete: "off" });
  const days = h("input", { type: "number", name: "expires_in_days", min: 1, max: 3650, step: 1, inputmode: "numeric" });
  const budget = h("input", { type: "text", name: "budget", inputmode: "decimal", autocomplete: "off", placeholder: "e.g. 5.00" });
  const error = h("p", { class: "form-error", role: "alert" });
  const submit = h("button", { type: "submit", class: "primary" }, "Create key");
  const form = h(
    "form",
    { class: "card stack", novalidate: true, "aria-labelledby": "key-new" },
    h("h2", { id: "key-new" }, "New key"),
    h("div", { class: "columns" },
      field("Name", name, "What uses it, e.g. “laptop CLI”"),
      field("Expires in days", days, "Optional; empty: never"),
      field("Budget (USD)", budget, "Optional spending cap for this key")),
    error,
    h("div", { class: "row" }, submit),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    const body = { name: name.value.trim() };
    if (!body.name) {
      error.textContent = "name: give the key a name";
      name.focus();
      return;
    }
    if (days.value) body.expires_in_days = Number(days.value);
    if (budget.value.trim()) body.budget = budget.value.trim().replace(/^\$/, "");
    submit.disabled = true;
    try {
      const created = await post("/api/keys", body);
      form.reset();
      onCreated(created);
    } catch (err) {
      error.textContent = err instanceof ApiError ? err.message : String(err);
      const control = { name, expires_in_days: days, budget }[err.param];
      control?.focus();
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

/** The actions cell: Revoke, then "Revoke? Yes / Keep" in place. */
function revokeCell(key, onRevoked) {
  const cell = h("td", { class: "key-actions" });
  const label = `${key.name} (${key.prefix}…${key.last4})`;
  const start = () => {
    const yes = h("button", { type: "button", class: "small danger" }, "Yes, revoke");
    const keep = h("button", { type: "button", class: "small" }, "Keep");
    yes.addEventListener("click", async () => {
      yes.disabled = keep.disabled = true;
      try {
        onRevoked(await del(`/api/keys/${encodeURIComponent(key.id)}`));
        toast(`Revoked ${label}`, "ok");
      } catch (err) {
        toast(err.message, "error");
        idle();
      }
    });
    keep.addEventListener("click", () => idle(true));
    cell.replaceChildren(h("span", { class: "row" }, h("span", null, "Revoke? Apps using it stop working."), yes, keep));
    yes.focus();
  };
  const idle = (focus = false) => {
    const button = h("button", { type: "button", class: "small danger", "aria-label": `Revoke ${label}` }, "Revoke");
    button.addEventListener("click", start);
    cell.replaceChildren(button);
    if (focus) button.focus();
  };
  if (keyStatus(key) === "revoked") cell.append(h("span", { class: "muted" }, "–"));
  else idle();
  return cell;
}

/** A key's row; admins see every user's keys, so their rows name the owner. */
function keyRow(key, onRevoked, admin) {
  const status = keyStatus(key);
  return h(
    "tr",
    { dataset: { keyId: key.id } },
    h("th", { scope: "row" }, key.name),
    admin ? h("td", { class: "key-owner" }, key.owner.email || key.owner.id) : null,
    h("td", null, h("code", null, `${key.prefix}…${key.last4}`)),
    h("td", null, when(key.created)),
    h("td", null, key.last_used ? when(key.last_used) : "never"),
    h("td", null, key.expires ? when(key.expires) : "never"),
    h("td", { class: "num" }, key.budget === null ? "none" : usd(key.budget)),
    h("td", { class: "key-status" }, h("span", { class: `badge key-${status}` }, status)),
    revokeCell(key, onRevoked),
  );
}

export async function render(root) {
  const admin = state.me && state.me.role === "admin";
  const columns = ["Name", ...(admin ? ["Owner"] : []), "Key", "Created", "Last used", "Expires", "Budget", "Status", "Actions"];
  const created = h("div");
  const body = h("tbody");
  const table = h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { "aria-labelledby": "keys-title" },
      h("thead", null, h("tr", null, columns
        .map((t) => h("th", { scope: "col", class: t === "Budget" ? "num" : null }, t)))),
      body,
    ),
  );
  const empty = h("p", { class: "empty" }, "No keys yet.");

  async function load() {
    const list = await get("/api/keys");
    const rows = list.data.map((key) => keyRow(key, replace, admin));
    body.replaceChildren(...rows);
    empty.hidden = rows.length > 0;
    table.hidden = rows.length === 0;
  }

  function replace(key) {
    const old = body.querySelector(`tr[data-key-id="${CSS.escape(key.id)}"]`);
    const row = keyRow(key, replace, admin);
    if (old) old.replaceWith(row);
    const cell = row.querySelector(".key-status");
    cell.tabIndex = -1; // focus lands on the new status, not on the page top
    cell.focus();
  }

  const form = createForm((key) => {
    created.replaceChildren(keyOnce(key, () => created.replaceChildren()));
    created.querySelector("section").focus(); // read out: "Key … created"
    load().catch((err) => toast(err.message, "error"));
  });
  root.append(
    h("h1", null, "API keys"),
    h(
      "p",
      { class: "muted" },
      "Use a key with the API, the CLI or the OpenAI SDK: ",
      h("code", null, "Authorization: Bearer pf-…"),
      ". A key spends your credits; revoking it takes effect at once.",
    ),
    h("div", { class: "stack" }, created, form,
      h("section", { class: "stack", "aria-labelledby": "keys-title" },
        h("h2", { id: "keys-title" }, admin ? "All keys (you are an admin)" : "Your keys"), empty, table)),
  );
  await load();
}
