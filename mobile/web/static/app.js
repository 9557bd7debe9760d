// Starts Doorstep on the page. The app's database can be open in one tab
// only, so the page first takes a Web Lock; a second tab says so instead of
// starting. Then it asks the browser to keep the app's storage, starts the
// core in a dedicated worker and draws the screens.
import init, { start_app } from './doorstep_web.js';

if ('serviceWorker' in navigator) {
  navigator.serviceWorker.register('sw.js').catch((error) => console.warn('no offline copy:', error));
}

async function start() {
  if (navigator.storage && navigator.storage.persist) {
    // Unsynced work must not be evicted when the phone runs short of space.
    navigator.storage.persist().catch(() => {});
  }
  const worker = new Worker('worker.js', { type: 'module' });
  await init();
  document.getElementById('main').replaceChildren();
  start_app(worker);
}

function blocked() {
  document.getElementById('main').hidden = true;
  document.getElementById('blocked').hidden = false;
}

if (navigator.locks) {
  navigator.locks.request('doorstep-app', { ifAvailable: true }, async (lock) => {
    if (!lock) {
      blocked();
      return;
    }
    await start();
    // Held for as long as the page is open.
    await new Promise(() => {});
  });
} else {
  start();
}
