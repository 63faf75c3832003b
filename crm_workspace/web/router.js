// The app's router: keeps the browser's address and history in step with the page shown.
// Python sets `query` when the page changes: a new history entry (pushState). Back and
// Forward (popstate) send the address's query back to Python, which shows that page.
// Plain DOM, no imports: it must work offline.

function canonical(query) {
  const params = new URLSearchParams(query)
  params.sort()
  return params.toString()
}

export function render({ model }) {
  function address(query) {
    return query ? `?${query}` : window.location.pathname
  }

  function follow(push) {
    if (canonical(model.query) === canonical(window.location.search)) return
    if (push) window.history.pushState({ crm: true }, "", address(model.query))
    else window.history.replaceState({ crm: true }, "", address(model.query))
  }

  function onPopState() {
    model.query = window.location.search.replace(/^\?/, "")
  }

  follow(false) // the first page: the address says what is shown, no extra history entry
  model.on("query", () => follow(true))
  window.addEventListener("popstate", onPopState)
  model.on("remove", () => window.removeEventListener("popstate", onPopState))
}
