// The pipeline board: one column per stage, deal cards moved with HTML5 drag and drop
// or the keyboard (focus a card, ArrowLeft/ArrowRight moves it, Enter opens it).
// Plain DOM, no imports: it must work in an air-gapped notebook. Every piece of user
// data is set with textContent, never innerHTML. A `readonly` board (a viewer) opens cards
// but neither drags, moves nor adds them.

function text(tag, className, value) {
  const node = document.createElement(tag)
  if (className) node.className = className
  if (value !== undefined && value !== null) node.textContent = String(value)
  return node
}

export function render({ model, el }) {
  const board = text("div", "pl-board")
  board.setAttribute("role", "list")
  board.setAttribute("aria-label", "Pipeline board")
  el.appendChild(board)
  let focusAfterDraw = null
  let dragged = null
  let redrawAfterDrag = false

  // Auto-scroll while dragging: near an edge of the board (left/right), of a column's card list
  // (top/bottom) or of the window (top/bottom), the container scrolls, faster nearer the edge.
  const EDGE = 60
  const MAX_STEP = 18
  let scrolling = null
  let scrollTimer = null

  function step(distance) {
    return distance < EDGE ? Math.ceil((MAX_STEP * (EDGE - distance)) / EDGE) : 0
  }

  function edgeScroll(event) {
    const box = board.getBoundingClientRect()
    const x = step(box.right - event.clientX) - step(event.clientX - box.left)
    const list = event.target && event.target.closest ? event.target.closest(".pl-cards") : null
    let y = 0
    if (list) {
      const rect = list.getBoundingClientRect()
      y = step(rect.bottom - event.clientY) - step(event.clientY - rect.top)
    }
    const page = step(window.innerHeight - event.clientY) - step(event.clientY)
    return { x, y, list, page }
  }

  function stopScrolling() {
    scrolling = null
    if (scrollTimer !== null) clearInterval(scrollTimer)
    scrollTimer = null
  }

  function autoScroll() {
    if (!dragged || !scrolling) return stopScrolling()
    if (scrolling.x) board.scrollLeft += scrolling.x
    if (scrolling.y && scrolling.list) scrolling.list.scrollTop += scrolling.y
    if (scrolling.page) window.scrollBy(0, scrolling.page)
  }

  // a timer, not requestAnimationFrame: Chromium may not paint frames during a drag session
  board.addEventListener("dragover", (event) => {
    if (!dragged) return
    const wanted = edgeScroll(event)
    if (!(wanted.x || wanted.y || wanted.page)) return stopScrolling()
    scrolling = wanted
    if (scrollTimer === null) {
      autoScroll()
      scrollTimer = setInterval(autoScroll, 16)
    }
  })
  board.addEventListener("dragleave", (event) => {
    if (!board.contains(event.relatedTarget)) stopScrolling()
  })
  board.addEventListener("drop", stopScrolling)

  function send(msg) {
    model.send_msg(msg)
  }

  function moveTo(card, column, stage) {
    if (model.readonly || !stage || stage === column.stage) return
    send({ type: "move", id: card.id, version: card.version, from: column.stage, stage: stage })
  }

  function makeCard(card, column, index, columns) {
    const node = text("div", "pl-card")
    node.draggable = !model.readonly
    node.tabIndex = 0
    node.dataset.id = String(card.id)
    node.dataset.stage = column.stage
    node.setAttribute("role", "listitem")
    node.setAttribute(
      "aria-label",
      model.readonly
        ? `${card.title}, ${card.amount}, in ${column.label}. Read-only: Enter opens it.`
        : `${card.title}, ${card.amount}, in ${column.label}. Arrow keys move it to the previous or next stage, Enter opens it.`
    )
    node.title = model.readonly ? `${card.title} (read-only: your role cannot move deals)` : card.title
    const head = text("div", "pl-card-title", card.title)
    node.appendChild(head)
    const who = [card.organization, card.contact].filter(Boolean).join(" · ")
    if (who) node.appendChild(text("div", "pl-card-who", who))
    const money = text("div", "pl-card-amount", card.amount)
    node.appendChild(money)
    const meta = [card.owner, card.expected_close ? `close ${card.expected_close}` : ""].filter(Boolean).join(" · ")
    if (meta) node.appendChild(text("div", "pl-card-meta", meta))
    if (card.days_in_stage !== null && card.days_in_stage !== undefined) {
      node.appendChild(text("div", "pl-card-meta", `${card.days_in_stage} days in stage`))
    }
    if (card.next_task) node.appendChild(text("div", "pl-card-task", `Next: ${card.next_task}`))
    const markers = text("div", "pl-markers")
    if (card.rotting) {
      const mark = text("span", "pl-rotting", "Rotting")
      mark.title = `No activity or stage change for more than ${column.rot_days} days`
      markers.appendChild(mark)
    }
    if (card.overdue) {
      const mark = text("span", "pl-overdue", "Overdue")
      mark.title = `Expected close ${card.expected_close} has passed`
      markers.appendChild(mark)
    }
    if (markers.childNodes.length) node.appendChild(markers)

    node.addEventListener("dragstart", (event) => {
      if (model.readonly) {
        event.preventDefault()
        return
      }
      dragged = { card, column }
      event.dataTransfer.effectAllowed = "move"
      event.dataTransfer.setData("text/plain", String(card.id))
      node.classList.add("pl-dragging")
    })
    node.addEventListener("dragend", () => {
      node.classList.remove("pl-dragging")
      dragged = null
      stopScrolling()
      if (redrawAfterDrag) draw()
    })
    node.addEventListener("click", () => send({ type: "open", id: card.id }))
    node.addEventListener("keydown", (event) => {
      const position = columns.indexOf(column)
      if (event.key === "ArrowRight" || event.key === "ArrowLeft") {
        event.preventDefault()
        const next = columns[position + (event.key === "ArrowRight" ? 1 : -1)]
        if (next) {
          focusAfterDraw = card.id
          moveTo(card, column, next.stage)
        }
      } else if (event.key === "Enter" || event.key === " ") {
        event.preventDefault()
        send({ type: "open", id: card.id })
      } else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault()
        const siblings = node.parentNode.querySelectorAll(".pl-card")
        const target = siblings[index + (event.key === "ArrowDown" ? 1 : -1)]
        if (target) target.focus()
      }
    })
    return node
  }

  function makeColumn(column, columns) {
    const node = text("section", `pl-column pl-${column.status}`)
    node.dataset.stage = column.stage
    node.setAttribute("aria-label", `${column.label} column`)
    const header = text("header", "pl-header")
    const title = text("div", "pl-title", column.label)
    header.appendChild(title)
    const add = text("button", "pl-add", "+")
    add.type = "button"
    add.title = `Add a deal in ${column.label}`
    add.setAttribute("aria-label", `Add a deal in ${column.label}`)
    add.addEventListener("click", () => send({ type: "add", stage: column.stage }))
    if (!model.readonly) header.appendChild(add)
    node.appendChild(header)
    const totals = text("div", "pl-totals")
    totals.appendChild(text("span", "pl-count", `${column.deals} ${column.deals === 1 ? "deal" : "deals"}`))
    totals.appendChild(text("span", "pl-sum", column.amount_text))
    totals.appendChild(text("span", "pl-weighted", `weighted ${column.weighted_text}`))
    node.appendChild(totals)
    const list = text("div", "pl-cards")
    column.cards.forEach((card, index) => list.appendChild(makeCard(card, column, index, columns)))
    node.appendChild(list)
    if (column.more > 0) {
      const more = text("button", "pl-more", `Load more (${column.more} more)`)
      more.type = "button"
      more.addEventListener("click", () => send({ type: "more", stage: column.stage }))
      node.appendChild(more)
    }
    node.addEventListener("dragover", (event) => {
      if (!dragged) return
      event.preventDefault()
      event.dataTransfer.dropEffect = "move"
      node.classList.add("pl-over")
    })
    node.addEventListener("dragleave", (event) => {
      if (!node.contains(event.relatedTarget)) node.classList.remove("pl-over")
    })
    node.addEventListener("drop", (event) => {
      event.preventDefault()
      node.classList.remove("pl-over")
      if (!dragged) return
      const { card, column: from } = dragged
      dragged = null
      moveTo(card, from, column.stage)
    })
    return node
  }

  function draw() {
    if (dragged) {
      // another session's change arrived mid-drag: redraw when the drag ends
      redrawAfterDrag = true
      return
    }
    redrawAfterDrag = false
    board.classList.toggle("pl-readonly", Boolean(model.readonly))
    // a card moved by the keyboard keeps the focus in its new column; any other focused card
    // keeps it too when someone else's change redraws the board (else the next key is lost)
    const active = el.getRootNode().activeElement
    const focused = active && active.classList && active.classList.contains("pl-card") ? active.dataset.id : null
    const columns = JSON.parse(model.payload || "[]")
    board.replaceChildren(...columns.map((column) => makeColumn(column, columns)))
    const wanted = focusAfterDraw !== null ? focusAfterDraw : focused
    if (wanted !== null) {
      const target = board.querySelector(`.pl-card[data-id="${Number(wanted)}"]`)
      if (target) {
        target.focus()
        focusAfterDraw = null
      }
    }
  }

  model.on("payload", draw)
  model.on("readonly", draw)
  draw()
}
