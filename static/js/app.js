// The console's own behaviour, in a file (the Content-Security-Policy allows no inline script).
// A form or button with data-confirm="…" asks before it submits.
document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form.dataset.confirm || event.submitter?.dataset.confirm;
  if (question && !window.confirm(question)) {
    event.preventDefault();
    event.stopImmediatePropagation();
  }
}, true);
