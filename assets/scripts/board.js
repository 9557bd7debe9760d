// The Today board, kept current: the server sends the whole board again
// (as one `board` event) whenever a phone's sync or an office edit changes
// the council's jobs. Without JavaScript the page still shows the board as
// it was when loaded.
(() => {
  "use strict";
  const board = document.getElementById("board");
  const updated = document.getElementById("board-updated");
  if (!board || !("EventSource" in window)) {
    return;
  }
  const source = new EventSource("/office/today/events");
  let received = 0;
  source.addEventListener("board", (event) => {
    board.innerHTML = event.data;
    received += 1;
    board.dataset.updates = String(received);
    const time = new Date().toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit" });
    updated.textContent = "Live: updated at " + time + ".";
  });
  source.addEventListener("error", () => {
    updated.textContent = "Reconnecting to the server…";
  });
})();
