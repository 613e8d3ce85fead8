// The unfinished vote, kept on this phone only (IndexedDB), so that a reload or a dropped
// connection after the credential was issued cannot lose the vote (docs/mobile.md, "On the phone").
//
// What is kept, and when it goes (the record is rewritten at each step):
//   before POST credential  election, chosen marks, the token key as a non-extractable
//                           CryptoKey (evote.js toStorable), the blinding state
//   after the credential    the finalised credential (the blinding state is dropped)
//   before / after the mint the signed mint transaction / its tracking code
//   before the vote         the signed vote transaction
//   after the vote          everything is deleted except the receipt (election, vote tracking code)
// Never the device session or the SMS code: the server cannot join what is here to the
// identity check, and neither can someone who reads this store.
//
// IndexedDB, not localStorage: it keeps CryptoKey objects without exporting them, and writes
// are transactional (durability "strict": committed means on disk).

const DB_NAME = "evote-mobile";
const DB_VERSION = 1;
const PENDING = "pending"; // keyPath "id": unfinished votes (at most one in practice)
const RECEIPTS = "receipts"; // keyPath "election": the last tracking code per election

function promised(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function openDatabase() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, DB_VERSION);
    request.onupgradeneeded = () => {
      const db = request.result;
      if (!db.objectStoreNames.contains(PENDING)) db.createObjectStore(PENDING, { keyPath: "id" });
      if (!db.objectStoreNames.contains(RECEIPTS)) db.createObjectStore(RECEIPTS, { keyPath: "election" });
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
    request.onblocked = () => reject(new Error("IndexedDB upgrade blocked"));
  });
}

class IndexedDbStore {
  constructor(db) {
    this.db = db;
    this.persistent = true;
  }

  /** Run `work(stores)` in one read-write transaction; resolve once it is committed. */
  #write(work) {
    return new Promise((resolve, reject) => {
      const tx = this.db.transaction([PENDING, RECEIPTS], "readwrite", { durability: "strict" });
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error || new Error("IndexedDB transaction aborted"));
      work({ pending: tx.objectStore(PENDING), receipts: tx.objectStore(RECEIPTS) });
    });
  }

  async unfinished() {
    const all = await promised(this.db.transaction(PENDING).objectStore(PENDING).getAll());
    return all.sort((a, b) => a.createdAt - b.createdAt);
  }

  async receipts() {
    return promised(this.db.transaction(RECEIPTS).objectStore(RECEIPTS).getAll());
  }

  save(record) {
    return this.#write(({ pending }) => pending.put(record));
  }

  /** The vote is recorded: delete the unfinished record and keep only the receipt, atomically. */
  finish(id, receipt) {
    return this.#write(({ pending, receipts }) => { pending.delete(id); receipts.put(receipt); });
  }

  discard(id) {
    return this.#write(({ pending }) => pending.delete(id));
  }
}

/** Where IndexedDB is missing or refused (some private modes): the same interface, in memory only. */
class MemoryStore {
  constructor() {
    this.persistent = false;
    this.pending = new Map();
    this.kept = new Map();
  }

  async unfinished() { return [...this.pending.values()]; }
  async receipts() { return [...this.kept.values()]; }
  async save(record) { this.pending.set(record.id, record); }
  async finish(id, receipt) { this.pending.delete(id); this.kept.set(receipt.election, receipt); }
  async discard(id) { this.pending.delete(id); }
}

/** The device's vote store: IndexedDB when the browser allows it, else memory (`persistent` false). */
export async function openVoteStore() {
  if (!globalThis.indexedDB) return new MemoryStore();
  try {
    return new IndexedDbStore(await openDatabase());
  } catch (_) {
    return new MemoryStore();
  }
}
