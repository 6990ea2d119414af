// livechat's only script of its own: it configures htmx, and does the few things htmx cannot
// (below, each says why). Every feature is HTML rendered on the server; see DESIGN.md.
// Loaded with `defer` after htmx, so this runs before htmx starts.
htmx.config.allowEval = false; // an injected hx-* attribute must never run code
htmx.config.allowScriptTags = false;
htmx.config.includeIndicatorStyles = false; // the Content-Security-Policy forbids inline styles
htmx.config.selfRequestsOnly = true;
htmx.config.attributesToSettle = ["class", "width", "height"]; // settling "style" writes inline style
// 4xx responses carry the message the person needs to see (the server retargets them to
// #flash), so they are swapped like successes; 5xx stay errors.
htmx.config.responseHandling = [
  { code: "204", swap: false },
  { code: "[23]..", swap: true },
  { code: "4..", swap: true, error: false },
  { code: "...", swap: false, error: true },
];
// Enter sends the message and Shift+Enter starts a new line, in any textarea marked
// data-enter-submits; htmx cannot filter keys without eval, which the CSP forbids.
document.addEventListener("keydown", (event) => {
  const field = event.target;
  if (event.key !== "Enter" || event.shiftKey || event.isComposing) return;
  if (!(field instanceof HTMLTextAreaElement) || !field.hasAttribute("data-enter-submits")) return;
  event.preventDefault();
  field.form.requestSubmit();
});
// Choosing one of the people the server offers for an @ being typed puts their handle
// in the draft, in place of what was typed of it.
document.addEventListener("click", (event) => {
  const choice = event.target.closest("[data-mention]");
  if (!choice) return;
  const field = choice.form.elements.body;
  field.value = field.value.replace(/@\w*$/, `@${choice.dataset.mention} `);
  choice.parentElement.replaceChildren();
  field.focus();
});
// Upload progress: move the <progress> inside the form whose request is sending a file.
document.addEventListener("htmx:xhr:progress", (event) => {
  const bar = event.target.querySelector("progress");
  if (bar && event.detail.total) bar.value = (100 * event.detail.loaded) / event.detail.total;
});
// While a page's socket is down, the page says so. The ws extension reconnects by itself
// after these close codes only, and a message sent meanwhile waits in its queue.
const RECONNECTING_CODES = [1006, 1011, 1012, 1013];
document.addEventListener("htmx:wsClose", (event) => {
  const reconnecting = RECONNECTING_CODES.includes(event.detail.event.code);
  document.body.classList.toggle("is-reconnecting", reconnecting);
});
document.addEventListener("htmx:wsOpen", () => document.body.classList.remove("is-reconnecting"));
// The browser's time zone, for times to be shown in until the profile names one.
const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
if (zone && !document.cookie.split("; ").includes(`tz=${zone}`)) {
  document.cookie = `tz=${zone}; path=/; max-age=31536000; samesite=lax`;
}
