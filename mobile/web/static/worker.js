// The app's core, in a dedicated worker (the only place the browser offers
// synchronous file handles for the database). Messages that arrive while
// the module loads are kept and handed over.
const queued = [];
self.onmessage = (event) => queued.push(event.data);

import init, { start_worker } from './doorstep_web.js';

await init();
await start_worker(queued);
