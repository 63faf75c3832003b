// A read-only list (crm_workspace/web/list_table.py): one HTML table, drawn once, sorted and paged here.
const esc = (text) => String(text).replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"})[c])

export function render({ model, el }) {
  let data = {columns: [], rows: [], keys: {}}
  let order = []          // row positions in the order shown
  let sortBy = null       // [column position, 1 | -1]
  let page = 0
  let shown = []          // row positions on the page drawn
  let picked = [...model.selection]   // the ticks, ahead of the server's answer while it is on its way
  let asked = model.answered          // the last tick message sent (the server answers with its number)

  el.classList.add("lt-root")   // fills the component's box: the list scrolls inside it
  const wrap = document.createElement("div")
  wrap.className = "lt-wrap"
  const pager = document.createElement("div")
  pager.className = "lt-pager"
  el.append(wrap, pager)

  const key = (col, row) => {
    const keys = data.keys[col]
    return keys ? keys[row] : data.rows[row][col]
  }
  const compare = (a, b) => {
    if (a === b) return 0
    if (a === null || a === "") return 1   // blanks last, either way
    if (b === null || b === "") return -1
    if (typeof a === "number" && typeof b === "number") return a - b
    return String(a).localeCompare(String(b), undefined, {numeric: true, sensitivity: "base"})
  }
  const sortRows = () => {
    order = data.rows.map((_, i) => i)
    if (sortBy) {
      const [col, dir] = sortBy
      order.sort((a, b) => {
        const ka = key(col, a), kb = key(col, b)
        if (ka === null || ka === "" || kb === null || kb === "") return compare(ka, kb)
        return dir * compare(ka, kb) || a - b
      })
    }
  }

  const draw = () => {
    const cols = data.columns
    const size = model.page_size > 0 ? model.page_size : order.length || 1
    const pages = Math.max(1, Math.ceil(order.length / size))
    page = Math.min(page, pages - 1)
    shown = order.slice(page * size, page * size + size)
    const chosen = new Set(picked)
    const parts = ["<table class='lt-table", model.clickable ? " lt-clickable" : "", "'><colgroup>"]
    if (model.selectable) parts.push("<col class='lt-check-col'>")
    for (const c of cols) parts.push(c.width ? `<col style="width:${esc(c.width)}">` : "<col>")
    parts.push("</colgroup><thead><tr>")
    if (model.selectable) {
      const all = shown.length > 0 && shown.every((i) => chosen.has(i))
      parts.push(`<th class='lt-check'><input type='checkbox' aria-label='Select all' data-all${all ? " checked" : ""}></th>`)
    }
    cols.forEach((c, i) => {
      const mark = sortBy && sortBy[0] === i ? (sortBy[1] > 0 ? " ▲" : " ▼") : ""
      const aria = sortBy && sortBy[0] === i ? (sortBy[1] > 0 ? "ascending" : "descending") : "none"
      parts.push(`<th data-col='${i}' data-field="${esc(c.field)}" class='lt-${esc(c.align)}' aria-sort='${aria}' title="${esc(c.title)}">${esc(c.title)}${mark}</th>`)
    })
    parts.push("</tr></thead><tbody>")
    if (!shown.length) {
      parts.push(`<tr class='lt-empty'><td colspan='${cols.length + (model.selectable ? 1 : 0)}'>${esc(model.empty)}</td></tr>`)
    }
    for (const r of shown) {
      const row = data.rows[r]
      const styles = data.styles ? data.styles[r] : null
      parts.push(`<tr class='lt-row' data-row='${r}'${model.clickable ? " tabindex='0'" : ""}>`)
      if (model.selectable) {
        parts.push(`<td class='lt-check'><input type='checkbox' aria-label='Select row' data-pick='${r}'${chosen.has(r) ? " checked" : ""}></td>`)
      }
      cols.forEach((c, i) => {
        const value = row[i] === null ? "" : row[i]
        const style = styles && styles[i] ? ` style="${esc(styles[i])}"` : ""
        const text = c.html ? value : esc(value)
        const hover = c.html || value === "" ? "" : ` title="${esc(value)}"`
        parts.push(`<td class='lt-${esc(c.align)}${c.wrap ? " lt-wrapped" : ""}' data-field="${esc(c.field)}" data-label="${esc(c.title)}"${style}${hover}>${text}</td>`)
      })
      parts.push("</tr>")
    }
    parts.push("</tbody></table>")
    const scrolled = wrap.scrollTop
    wrap.innerHTML = parts.join("")
    wrap.scrollTop = scrolled   // a tick or a sort keeps the place in the list
    if (pages > 1) {
      pager.innerHTML = `<button type='button' data-page='-1'${page === 0 ? " disabled" : ""}>◀ Previous</button>` +
        `<span>Page ${page + 1} of ${pages}</span>` +
        `<button type='button' data-page='1'${page >= pages - 1 ? " disabled" : ""}>Next ▶</button>`
    } else {
      pager.innerHTML = ""
    }
  }

  // a tick changes the boxes in place: a redraw would take the keyboard's focus away
  const tick = () => {
    picked = [...model.selection]
    const chosen = new Set(picked)
    for (const box of wrap.querySelectorAll("input[data-pick]")) box.checked = chosen.has(Number(box.dataset.pick))
    const all = wrap.querySelector("input[data-all]")
    if (all) all.checked = shown.length > 0 && shown.every((i) => chosen.has(i))
  }

  const load = () => {
    picked = [...model.selection]
    const fields = data.columns.map((c) => c.field).join("\u0000")
    data = JSON.parse(model.payload || "{}")
    data.columns = data.columns || []
    data.rows = data.rows || []
    data.keys = data.keys || {}
    // a refresh keeps the order a person chose, unless the columns changed
    if (data.columns.map((c) => c.field).join("\u0000") !== fields) sortBy = null
    page = 0
    sortRows()
    draw()
    wrap.scrollTop = 0
  }

  // ticks and clicks name rows by position in the rows drawn: ``v`` says which rows those were, and
  // the records' keys (``ids``, with a row_key) let the server find them if it has replaced the rows
  const ids = (rows) => data.ids ? rows.map((r) => data.ids[r]) : null
  const open = (tr, cell) => {
    if (!model.clickable || !tr) return
    const field = cell && cell.dataset.field ? cell.dataset.field : null
    const row = Number(tr.dataset.row)
    model.send_msg({type: "click", row, column: field, v: data.v, key: data.ids ? data.ids[row] : null})
  }
  const choose = (rows) => {
    picked = rows
    asked += 1
    model.send_msg({type: "select", rows, keys: ids(rows), v: data.v, n: asked})
  }

  wrap.addEventListener("click", (event) => {
    const target = event.target
    if (target.matches("input[data-all]")) {   // the rows of the page shown
      const rest = picked.filter((i) => !shown.includes(i))
      choose(target.checked ? [...rest, ...shown] : rest)
      return
    }
    if (target.matches("input[data-pick]")) {
      const r = Number(target.dataset.pick)
      const rest = picked.filter((i) => i !== r)
      choose(target.checked ? [...rest, r] : rest)
      return
    }
    if (target.closest("td.lt-check")) return
    const th = target.closest("th[data-col]")
    if (th) {
      const col = Number(th.dataset.col)
      sortBy = sortBy && sortBy[0] === col ? [col, -sortBy[1]] : [col, 1]
      sortRows()
      draw()
      return
    }
    if (target.closest("a")) return   // a link in a cell goes where it points
    open(target.closest("tr.lt-row"), target.closest("td"))
  })
  wrap.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && event.target.matches("tr.lt-row")) open(event.target, null)
  })
  pager.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-page]")
    if (!button) return
    page += Number(button.dataset.page)
    draw()
    wrap.scrollTop = 0
  })

  model.on("payload", load)
  // the server's ticks, once it has answered the last tick sent (an earlier answer would undo a later tick)
  model.on(["selection", "answered"], () => { if (model.answered >= asked) tick() })
  model.on(["page_size", "selectable", "clickable", "empty"], draw)
  load()
}
