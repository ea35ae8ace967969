// The sign-in page: email and password (and single sign-on where the server has it).

import { ApiError, post } from "../api.js";
import { field, h } from "../dom.js";

export function render(root) {
  const email = h("input", { type: "email", name: "email", autocomplete: "username", required: true });
  const password = h("input", {
    type: "password", name: "password", autocomplete: "current-password", required: true,
  });
  const error = h("p", { class: "form-error", role: "alert" });
  const submit = h("button", { type: "submit", class: "primary" }, "Sign in");
  const form = h(
    "form",
    { class: "card signin", novalidate: true },
    h("h1", null, "Sign in to Pixelforge"),
    field("Email", email),
    field("Password", password),
    error,
    submit,
    h("p", { class: "muted" }, h("a", { href: "/auth/oidc/login" }, "Sign in with single sign-on")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    if (!email.value || !password.value) {
      error.textContent = "Enter your email and password.";
      (email.value ? password : email).focus();
      return;
    }
    submit.disabled = true;
    try {
      const answer = await post("/auth/login", { email: email.value, password: password.value });
      const { signedIn } = await import("../app.js");
      await signedIn(answer.csrf_token);
    } catch (err) {
      error.textContent = err instanceof ApiError ? err.message : String(err);
      password.select();
    } finally {
      submit.disabled = false;
    }
  });
  document.getElementById("topbar").hidden = true;
  root.append(h("div", { class: "center" }, form));
  email.focus();
}
