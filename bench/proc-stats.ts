// CPU time and memory of the processes under test, read from Linux's /proc: utime+stime from
// /proc/<pid>/stat, VmRSS/VmHWM from /proc/<pid>/status, the process tree from every /proc/<pid>/stat.
// Used by bench/run.ts around each cell.

import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";

/** Clock ticks per second of utime/stime (USER_HZ); 100 on every Linux seen, asked once anyway. */
const TICKS_PER_SECOND = ((): number => {
  try {
    const value = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
    return Number.isFinite(value) && value > 0 ? value : 100;
  } catch {
    return 100;
  }
})();

interface Stat {
  pid: number;
  comm: string;
  ppid: number;
  /** User + system CPU of the whole process (all its threads), in ms. */
  cpuMs: number;
}

function readStat(pid: number): Stat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // The command name is in parentheses and may itself contain spaces or parentheses.
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  const fields = text.slice(close + 2).split(" ");
  // After the name: state(0) ppid(1) ... utime(11) stime(12), i.e. fields 14 and 15 of proc(5).
  const ticks = Number(fields[11]) + Number(fields[12]);
  return { pid, comm: text.slice(open + 1, close), ppid: Number(fields[1]), cpuMs: (ticks * 1000) / TICKS_PER_SECOND };
}

/** CPU ms used so far by these processes together (a process that exited counts 0). */
export function cpuMs(pids: number[]): number {
  let total = 0;
  for (const pid of pids) total += readStat(pid)?.cpuMs ?? 0;
  return total;
}

/** CPU ms the whole machine spent busy so far (all cores, from the first line of /proc/stat). */
export function machineBusyMs(): number {
  const fields = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal: busy = all but idle and iowait.
  const total = fields.slice(0, 8).reduce((sum, value) => sum + value, 0);
  return ((total - fields[3]! - fields[4]!) * 1000) / TICKS_PER_SECOND;
}

/** Cores' worth of CPU that processes other than `own` and this one used over the next `windowMs`. */
export async function foreignLoad(own: number[], windowMs = 300): Promise<number> {
  const machine = machineBusyMs();
  const mine = cpuMs(own);
  const self = process.cpuUsage();
  await new Promise((resolve) => setTimeout(resolve, windowMs));
  const selfUsage = process.cpuUsage(self);
  const foreign = machineBusyMs() - machine - (cpuMs(own) - mine) - (selfUsage.user + selfUsage.system) / 1000;
  return Math.max(0, foreign) / windowMs;
}

/** Every live descendant of `root` whose command name contains `name`. */
export function descendants(root: number, name: string): number[] {
  const children = new Map<number, Stat[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat === undefined) continue;
    const list = children.get(stat.ppid) ?? [];
    list.push(stat);
    children.set(stat.ppid, list);
  }
  const found: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    for (const child of children.get(queue.shift()!) ?? []) {
      if (child.comm.includes(name)) found.push(child.pid);
      queue.push(child.pid);
    }
  }
  return found;
}

function statusKb(pid: number, field: "VmRSS" | "VmHWM"): number {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

/** Resets VmHWM (peak RSS) to the current RSS, so a cell's peak is its own; false where not allowed. */
function resetPeak(pids: number[]): boolean {
  let ok = true;
  for (const pid of pids) {
    try {
      writeFileSync(`/proc/${pid}/clear_refs`, "5");
    } catch {
      ok = false;
    }
  }
  return ok;
}

/** Samples the summed RSS of a set of processes while a cell runs and reports the peak. */
export class MemorySampler {
  #peakKb = 0;
  readonly #timer: NodeJS.Timeout;
  readonly #pids: number[];
  /** Whether VmHWM was reset, i.e. whether the kernel's own peak belongs to this cell. */
  readonly #hwmIsOurs: boolean;

  constructor(pids: number[], intervalMs = 100) {
    this.#pids = pids;
    this.#hwmIsOurs = resetPeak(pids);
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), intervalMs);
    this.#timer.unref();
  }

  #sample(): void {
    let kb = 0;
    for (const pid of this.#pids) kb += statusKb(pid, "VmRSS");
    this.#peakKb = Math.max(this.#peakKb, kb);
  }

  /** Peak RSS in MB: the kernel's VmHWM since the reset, or else the sampled peak. */
  stop(): number {
    clearInterval(this.#timer);
    this.#sample();
    if (!this.#hwmIsOurs) return this.#peakKb / 1024;
    let hwm = 0;
    for (const pid of this.#pids) hwm += statusKb(pid, "VmHWM");
    return Math.max(this.#peakKb, hwm) / 1024;
  }
}

/** Waits until the processes stop burning CPU (background work after the last reply), at most `maxMs`. */
export async function settle(pids: number[], maxMs = 3000, stepMs = 100): Promise<void> {
  const end = performance.now() + maxMs;
  let last = cpuMs(pids);
  let quiet = 0;
  while (performance.now() < end && quiet < 2) {
    await new Promise((resolve) => setTimeout(resolve, stepMs));
    const now = cpuMs(pids);
    quiet = now - last < (1000 / TICKS_PER_SECOND) * 1.5 ? quiet + 1 : 0;
    last = now;
  }
}
