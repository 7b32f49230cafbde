// The last speech results, kept in the browser (IndexedDB: audio is too big for localStorage),
// so that they survive a reload. Each holds its request (seed included) and its samples.

const DB_NAME = "orpheus-coordinator";
const DB_VERSION = 1;
const STORE = "results";
export const MAX_RESULTS = 10;

function promised(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

export class ResultStore {
  constructor() {
    this.db = null;
  }

  async open() {
    if (this.db) return this;
    const request = indexedDB.open(DB_NAME, DB_VERSION);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE, { keyPath: "id", autoIncrement: true });
    this.db = await promised(request);
    return this;
  }

  store(mode) {
    return this.db.transaction(STORE, mode).objectStore(STORE);
  }

  /** Newest first. */
  async list() {
    const all = await promised(this.store("readonly").getAll());
    return all.sort((a, b) => b.id - a.id);
  }

  /** Keep `result` (an object with `samples`, an Int16Array); drop the oldest beyond MAX_RESULTS. */
  async add(result) {
    const id = await promised(this.store("readwrite").add(result));
    const all = await this.list();
    for (const old of all.slice(MAX_RESULTS)) await this.remove(old.id);
    return id;
  }

  async remove(id) {
    await promised(this.store("readwrite").delete(id));
  }
}
