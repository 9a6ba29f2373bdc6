// Building the page without ever parsing data as HTML: every text goes in as a text node
// (textContent), attributes through setAttribute with event-handler attributes refused, and
// events through addEventListener. Nothing in the app sets HTML from a string.

export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.toLowerCase().startsWith("on")) throw new Error(`no inline handler ${name}`);
    if (name === "dataset") {
      for (const [key, data] of Object.entries(value)) element.dataset[key] = String(data);
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(element, children);
  return element;
}

export function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

export function on(element, event, handler) {
  element.addEventListener(event, handler);
  return element;
}

export function show(...children) {
  const view = document.getElementById("view");
  view.replaceChildren(...children.flat(Infinity).filter(Boolean));
  window.scrollTo(0, 0);
  const heading = view.querySelector("h1");
  if (heading) document.title = `${heading.textContent} · EVD`;
}

export function alertBox(text) {
  return h("p", { class: "alert", role: "alert" }, text);
}

export function money(amount, currency) {
  return currency ? `${currency} ${amount}` : String(amount);
}

// PINs and tokens in groups of four digits, easier to read aloud and type on a meter.
export function grouped(digits) {
  return String(digits).replace(/(.{4})(?=.)/g, "$1 ");
}

export function when(instant) {
  if (!instant) return "";
  const date = new Date(instant);
  if (Number.isNaN(date.getTime())) return String(instant);
  return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export function field(label, input) {
  const id = input.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  return [h("label", { for: id }, label), input];
}
