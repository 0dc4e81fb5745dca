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

// The client picker (clients/widgets.py): choosing a suggestion fills the hidden id and the box;
// clearing the box clears the choice. The hidden input's "change" lets filter forms react.
function pickerOf(element) {
  return element.closest("[data-picker]");
}

function choose(picker, id, name) {
  const value = picker.querySelector("[data-picker-value]");
  const search = picker.querySelector("[data-picker-search]");
  search.value = name;
  picker.querySelector(".picker-options").replaceChildren();
  search.setAttribute("aria-expanded", "false");
  if (value.value !== id) {
    value.value = id;
    value.dispatchEvent(new Event("change", { bubbles: true }));
  }
}

document.addEventListener("click", (event) => {
  const option = event.target.closest("[data-pick-id]");
  if (option && pickerOf(option)) {
    choose(pickerOf(option), option.dataset.pickId, option.dataset.pickName);
  }
});

document.addEventListener("input", (event) => {
  const search = event.target.closest("[data-picker-search]");
  if (search && search.value.trim() === "") {
    choose(pickerOf(search), "", "");
  }
});

document.addEventListener("keydown", (event) => {
  const picker = pickerOf(event.target);
  if (!picker) return;
  const options = [...picker.querySelectorAll("[data-pick-id]")];
  const at = options.indexOf(document.activeElement);
  if (event.key === "ArrowDown" && options.length) {
    event.preventDefault();
    options[Math.min(at + 1, options.length - 1)].focus();
  } else if (event.key === "ArrowUp" && at >= 0) {
    event.preventDefault();
    (at === 0 ? picker.querySelector("[data-picker-search]") : options[at - 1]).focus();
  } else if (event.key === "Enter" && event.target.matches("[data-picker-search]")) {
    event.preventDefault(); // Enter picks the first suggestion instead of sending the form half-filled
    if (options.length) choose(picker, options[0].dataset.pickId, options[0].dataset.pickName);
  } else if (event.key === "Escape") {
    picker.querySelector(".picker-options").replaceChildren();
  }
});

document.addEventListener("htmx:afterSwap", (event) => {
  const picker = pickerOf(event.target);
  if (picker && event.target.matches(".picker-options")) {
    const found = event.target.querySelector("[data-pick-id]") !== null;
    picker.querySelector("[data-picker-search]").setAttribute("aria-expanded", String(found));
  }
});

// Phone width turns tables into cards (app.css); each cell is labelled with its column's heading.
function labelCells() {
  document.querySelectorAll("table.table").forEach((table) => {
    const heads = [...table.querySelectorAll("thead th")].map((th) => th.textContent.trim());
    if (!heads.length) return;
    table.querySelectorAll("tbody tr, tfoot tr").forEach((row) => {
      let column = 0;
      for (const cell of row.children) {
        if (heads[column] && cell.colSpan === 1 && !cell.hasAttribute("data-label")) {
          cell.dataset.label = heads[column];
        }
        column += cell.colSpan || 1;
      }
    });
  });
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", labelCells);
} else {
  labelCells();
}
document.addEventListener("htmx:afterSettle", labelCells);

// A field with data-shown-with="id_source=contract_lines" shows only while that select has that
// value (its wrapper is hidden otherwise); without JavaScript it simply always shows.
function toggleDependents() {
  document.querySelectorAll("[data-shown-with]").forEach((field) => {
    const [id, value] = field.dataset.shownWith.split("=");
    const select = document.getElementById(id);
    if (!select) return;
    const wrapper = field.closest("div") || field;
    wrapper.hidden = select.value !== value;
  });
}
document.addEventListener("change", (event) => {
  if (event.target.matches("select")) toggleDependents();
});
if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", toggleDependents);
} else {
  toggleDependents();
}
