import {
  decodeManifest,
  MANIFEST_ENV,
  type Manifest,
  type ManifestListener,
} from '../handover/manifest.js';
import type { Logger } from '../logger.js';
import {
  type ActivatedFd,
  hasDefaultName,
  takeSocketActivation,
  unmatchedActivation,
} from './activation.js';
import { checkReadyFd, closeFdQuietly } from './fds.js';
import { describeHandedOver, describeSpec, type ListenerSpec, sameAddress } from './spec.js';

const GLOBAL_KEY = Symbol.for('graceful-restart.inheritance');

/**
 * The fds this process received (from the previous generation, or from systemd socket
 * activation), read once per process and shared by every copy of this module (ESM and CJS).
 */
export class Inheritance {
  readonly manifest: Manifest | undefined;
  private readonly pending = new Map<string, ManifestListener>();
  private readonly activated: ActivatedFd[];
  /** Listeners bound fresh while socket activation passed fds: none may then stay unused. */
  private readonly boundFresh: string[] = [];

  private constructor(env: NodeJS.ProcessEnv) {
    const text = env[MANIFEST_ENV];
    delete env[MANIFEST_ENV];
    // Ours only when our parent wrote it: an app's own subprocesses inherit the environment.
    const manifest = text === undefined ? undefined : decodeManifest(text);
    this.manifest = manifest && manifest.parentPid === process.ppid ? manifest : undefined;
    if (this.manifest) checkReadyFd(this.manifest.readyFd, MANIFEST_ENV);
    for (const listener of this.manifest?.listeners ?? [])
      this.pending.set(listener.name, listener);
    this.activated = this.manifest ? [] : takeSocketActivation(env);
  }

  static forProcess(env: NodeJS.ProcessEnv = process.env): Inheritance {
    const store = globalThis as unknown as Record<symbol, Inheritance | undefined>;
    let inheritance = store[GLOBAL_KEY];
    if (!inheritance) {
      inheritance = new Inheritance(env);
      store[GLOBAL_KEY] = inheritance;
    }
    return inheritance;
  }

  /** True when started by the stable-PID supervisor: it owns the listeners and restarts. */
  get supervised(): boolean {
    return this.manifest?.supervised === true;
  }

  /** How many processes accept on the inherited listeners (`graceful-restart run --workers`). */
  get acceptingWorkers(): number {
    return this.manifest?.workers ?? 1;
  }

  /**
   * The inherited listener for `name` when its address still matches `spec` (or it came from
   * socket activation). A listener whose address changed in the configuration is left unclaimed
   * (closed at ready) and bound fresh.
   */
  claim(name: string, spec: ListenerSpec, log: Logger): ManifestListener | undefined {
    const inherited = this.pending.get(name);
    if (!inherited) return undefined;
    // A socket-activated listener keeps the address of its socket unit, and a supervised one the
    // supervisor's `--listen`, whatever the app's own configuration says.
    const owned = inherited.activated || this.supervised;
    if (!owned && !sameAddress(inherited, spec)) {
      // Stays pending: closeUnclaimed() closes it at ready().
      log.warn(
        `listener "${name}": the configuration changed from ${describeHandedOver(inherited)} to ` +
          `${describeSpec(spec)}; binding the new address, the old one closes after the handover`,
      );
      return undefined;
    }
    this.pending.delete(name);
    if (owned && !sameAddress(inherited, spec)) {
      log.info(
        `listener "${name}": serving on ${describeHandedOver(inherited)} as ${
          inherited.activated ? 'the socket unit' : 'the supervisor'
        } provides it (the app asked for ${describeSpec(spec)})`,
      );
    }
    return inherited;
  }

  /**
   * A socket-activated fd for listener `name`: the one named after it (FileDescriptorName=),
   * else the next unnamed one, else the one fd systemd named after its socket unit
   * (`app.socket`, its default). Two or more such fds are ambiguous: a typed error. Undefined
   * when no fd is left for it: the listener is then bound fresh, which ready() refuses while an
   * activated fd stays unused.
   */
  claimActivated(name: string, log: Logger): number | undefined {
    const take = (index: number) => this.activated.splice(index, 1)[0] as ActivatedFd;
    const named = this.activated.findIndex((a) => a.name === name);
    if (named >= 0) return take(named).fd;
    const unnamed = this.activated.findIndex((a) => a.name === undefined);
    if (unnamed >= 0) return take(unnamed).fd;
    const defaults = this.activated.filter(hasDefaultName);
    if (defaults.length > 1) throw unmatchedActivation(defaults, [name]);
    const only = defaults[0];
    if (only === undefined) {
      this.boundFresh.push(name);
      return undefined;
    }
    take(this.activated.indexOf(only));
    log.info(
      `socket-activated fd ${only.fd} is named "${only.name}" (the socket unit's default name); ` +
        `adopted as listener "${name}" (FileDescriptorName=${name} in the unit names it)`,
    );
    return only.fd;
  }

  /** The names of the listeners the manifest hands over (for messages). */
  manifestNames(): string[] {
    return this.manifest?.listeners.map((l) => l.name) ?? [];
  }

  /**
   * Closes every received fd no listener claimed, so none stays open unseen. An activated fd
   * left unused while a listener was bound fresh is a typed error: the service would serve on an
   * address nobody connects to while systemd holds the real one.
   */
  closeUnclaimed(log: Logger): void {
    if (this.activated.length > 0 && this.boundFresh.length > 0) {
      throw unmatchedActivation(this.activated, this.boundFresh);
    }
    for (const listener of this.pending.values()) {
      log.info(
        `inherited listener "${listener.name}" (${describeHandedOver(listener)}) is not used by this generation; closing fd ${listener.fd}`,
      );
      closeFdQuietly(listener.fd);
    }
    this.pending.clear();
    for (const activated of this.activated) {
      log.warn(
        `socket-activated fd ${activated.fd}${activated.name ? ` (${activated.name})` : ''} matches no listener; closing it`,
      );
      closeFdQuietly(activated.fd);
    }
    this.activated.length = 0;
  }
}
