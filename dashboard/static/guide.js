// The lab guide beside the flow: docs/LAB.md a step at a time (/api/guide), each
// step's check marked done when the dashboard's sampler saw it hold (the "guide"
// of /api/state), the parts of the flow the step is about highlighted.
// Keyboard: ← and → move between steps; every control is a button.
const guide = { steps: [], current: 0, done: {} };

function stepIndexFromHash() {
  const match = location.hash.match(/^#step-(\d+)$/);
  const index = match ? guide.steps.findIndex((step) => step.number === Number(match[1])) : -1;
  return index >= 0 ? index : 0;
}

function isDone(step) { return Boolean(step.check && guide.done[step.check.name] !== undefined); }

// The list of steps is built once; marking it keeps a focused button focused.
function drawStepList() {
  const list = document.getElementById("guide-steps");
  if (list.children.length !== guide.steps.length) {
    list.replaceChildren(...guide.steps.map((step, index) => {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.id = `guide-step-${step.number}`;
      button.title = step.title;
      button.addEventListener("click", () => show(index, true));
      item.appendChild(button);
      return item;
    }));
  }
  guide.steps.forEach((step, index) => {
    const button = document.getElementById(`guide-step-${step.number}`);
    button.textContent = `${step.number}${isDone(step) ? " ✓" : ""}`;
    button.setAttribute("aria-label", `step ${step.number}: ${step.title}${isDone(step) ? " (done)" : ""}`);
    button.dataset.done = isDone(step);
    if (index === guide.current) button.setAttribute("aria-current", "step");
    else button.removeAttribute("aria-current");
  });
}

function drawCheck() {
  const step = guide.steps[guide.current];
  const line = document.getElementById("guide-check");
  const article = document.getElementById("guide-step");
  if (!step.check) {
    line.textContent = "No check for this step: what it does happens on a stack of its own, or out of the dashboard's sight.";
    line.className = "check none";
    article.dataset.checkDone = "none";
    return;
  }
  const done = isDone(step);
  line.textContent = `${done ? "✓ Done" : "… Waiting"}: ${step.check.what}`;
  line.className = `check ${done ? "done" : "waiting"}`;
  article.dataset.checkDone = done;
}

// The flow parts of the current step stand out; the others stay as they are.
function highlightFlow() {
  const step = guide.steps[guide.current];
  const focus = new Set(step.check ? step.check.focus : []);
  for (const part of document.querySelectorAll("#flow [data-part]")) {
    part.classList.toggle("focus", focus.has(part.dataset.part));
  }
}

function show(index, moveFocus = false) {
  guide.current = Math.max(0, Math.min(guide.steps.length - 1, index));
  const step = guide.steps[guide.current];
  document.getElementById("guide-title").textContent = `${step.number}. ${step.title}`;
  document.getElementById("guide-body").innerHTML = step.html;  // rendered by the dashboard from docs/LAB.md
  document.getElementById("guide-step").dataset.step = step.number;
  document.getElementById("guide-prev").disabled = guide.current === 0;
  document.getElementById("guide-next").disabled = guide.current === guide.steps.length - 1;
  history.replaceState(null, "", `#step-${step.number}`);
  drawStepList();
  drawCheck();
  highlightFlow();
  if (moveFocus) document.getElementById("guide-step").focus();
}

async function copyCommand(button) {
  const command = button.dataset.command;
  try {
    await navigator.clipboard.writeText(command);
    button.textContent = "copied";
  } catch {
    // No clipboard (an old browser, a page not from 127.0.0.1): select the command to copy by hand.
    window.getSelection().selectAllChildren(button.previousElementSibling);
    button.textContent = "selected";
  }
  setTimeout(() => { button.textContent = "copy"; }, 1500);
}

document.getElementById("guide-body").addEventListener("click", (event) => {
  const button = event.target.closest("button.copy");
  if (button) copyCommand(button);
});
document.getElementById("guide-prev").addEventListener("click", () => show(guide.current - 1, true));
document.getElementById("guide-next").addEventListener("click", () => show(guide.current + 1, true));
document.addEventListener("keydown", (event) => {
  if (event.altKey || event.ctrlKey || event.metaKey || event.target.closest("input, textarea")) return;
  if (event.key === "ArrowRight") show(guide.current + 1, true);
  else if (event.key === "ArrowLeft") show(guide.current - 1, true);
});
window.addEventListener("hashchange", () => show(stepIndexFromHash()));

document.addEventListener("lab-state", (event) => {
  const done = event.detail.guide || {};
  if (JSON.stringify(done) === JSON.stringify(guide.done) || !guide.steps.length) return;
  guide.done = done;
  drawStepList();
  drawCheck();
});

// Large text, for a projector: remembered by this browser.
const largeText = document.getElementById("large-text");
function setLargeText(on) {
  document.documentElement.classList.toggle("large", on);
  largeText.setAttribute("aria-pressed", on);
  localStorage.setItem("lab-large-text", on ? "1" : "0");
  document.dispatchEvent(new Event("lab-layout"));  // the charts and the flow's texts fit again
}
largeText.addEventListener("click", () => setLargeText(!document.documentElement.classList.contains("large")));
setLargeText(localStorage.getItem("lab-large-text") === "1");

fetch("/api/guide", { cache: "no-store" })
  .then((response) => response.json())
  .then((steps) => {
    guide.steps = steps;
    show(stepIndexFromHash());
  })
  .catch((error) => { document.getElementById("guide-title").textContent = `cannot load the guide: ${error}`; });
