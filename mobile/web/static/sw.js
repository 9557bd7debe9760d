// Keeps the app shell (page, scripts, wasm, icons) so the app opens with
// no network. Only the shell is answered from the cache; everything else
// (sync, uploads, photos) goes to the network as usual. VERSION is replaced
// at build time with a hash of the files, so a new build replaces the old.
const VERSION = '__DOORSTEP_VERSION__';
const CACHE = `doorstep-shell-${VERSION}`;
// Every file of the build, listed by scripts/build-web.sh (wasm-bindgen
// adds its snippets under snippets/).
const SHELL = ['./', ...__DOORSTEP_SHELL__];

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith('doorstep-shell-') && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  const scope = new URL(self.registration.scope);
  if (event.request.method !== 'GET' || url.origin !== scope.origin || !url.pathname.startsWith(scope.pathname)) {
    return;
  }
  // Cache first: the shell changes only with a new build (a new VERSION).
  event.respondWith(
    caches.open(CACHE).then((cache) =>
      cache.match(event.request, { ignoreSearch: true }).then((hit) => hit || fetch(event.request)),
    ),
  );
});
