// The flux CLI's nouns for the kinds the operator acts on (`kustomization|ks`, `source git`, `image
// repository`, `instance`…), derived from the kinds table so a new row gets its noun: the kind in
// lower case and its CRD short names, and for source-controller and image-automation kinds the flux
// CLI's two-word form (`source <word>`, `image <word>`).
import { fluxKinds, SourceGroup, type FluxKind } from '../flux/kinds.js';

/** The flux CLI's second word for a kind under `source` or `image`, where it differs from the kind. */
const fluxWords: Record<string, string> = {
  GitRepository: 'git',
  OCIRepository: 'oci',
  Bucket: 'bucket',
  HelmRepository: 'helm',
  HelmChart: 'chart',
  ImageRepository: 'repository',
  ImagePolicy: 'policy',
  ImageUpdateAutomation: 'update',
};

/** Further single-word nouns the flux and flux-operator CLIs use. */
const extraNouns: Record<string, readonly string[]> = {
  FluxInstance: ['instance'],
  Provider: ['alert-provider'],
};

const imageGroup = 'image.toolkit.fluxcd.io';

/** The first word of a kind's two-word form (`source`, `image`), or undefined. */
function prefixOf(kind: FluxKind): string | undefined {
  if (kind.group === SourceGroup) return 'source';
  if (kind.group === imageGroup) return 'image';
  return undefined;
}

/** One kind's nouns: the words that name it on the command line. */
export interface Noun {
  kind: string;
  /** `source git`, `kustomization`: the form shown in help. */
  name: string;
  /** Single words that name the kind on their own (the kind in lower case, short names). */
  words: readonly string[];
  /** The first word of the two-word form, with `sub` the second. */
  prefix?: string;
  sub?: string;
}

/** Every kind's nouns, in the kinds table's order. */
export const nouns: readonly Noun[] = fluxKinds.map((k) => {
  const prefix = prefixOf(k);
  const sub = fluxWords[k.kind];
  const words = [k.kind.toLowerCase(), ...k.shortNames, ...(extraNouns[k.kind] ?? [])];
  return prefix && sub ? { kind: k.kind, name: `${prefix} ${sub}`, words, prefix, sub } : { kind: k.kind, name: words[0] ?? k.kind, words };
});

/** A noun the user wrote that names no kind, as a one-line usage error. */
export class UnknownNounError extends Error {}

/**
 * Resolves the words after the verb (`ks app`, `source git repo`) to a kind and the words left.
 * Throws an UnknownNounError naming the nouns to use when the first words name no kind.
 */
export function resolveNoun(words: readonly string[]): { kind: string; rest: string[] } {
  const [first, second] = words.map((w) => w.toLowerCase());
  if (first === undefined) throw new UnknownNounError(`say what to act on: ${nounList()}`);
  const prefixed = nouns.filter((n) => n.prefix === first);
  if (prefixed.length > 0) {
    const noun = prefixed.find((n) => n.sub === second || (second !== undefined && n.words.includes(second)));
    if (!noun) {
      const subs = prefixed.map((n) => n.sub).join('|');
      throw new UnknownNounError(
        second === undefined ? `${first}: say which kind (${subs})` : `unknown ${first} kind "${second}": use ${first} ${subs}`,
      );
    }
    return { kind: noun.kind, rest: words.slice(2) };
  }
  const noun = nouns.find((n) => n.words.includes(first));
  if (!noun) throw new UnknownNounError(`unknown kind "${words[0] ?? ''}": use ${nounList()}`);
  return { kind: noun.kind, rest: words.slice(1) };
}

/** `kustomization|ks, helmrelease|hr, source git|oci|…`: the nouns, for help and errors. */
export function nounList(): string {
  const seen = new Set<string>();
  const parts: string[] = [];
  for (const noun of nouns) {
    if (noun.prefix) {
      if (seen.has(noun.prefix)) continue;
      seen.add(noun.prefix);
      parts.push(
        `${noun.prefix} ${nouns
          .filter((n) => n.prefix === noun.prefix)
          .map((n) => n.sub)
          .join('|')}`,
      );
    } else {
      parts.push(noun.words.join('|'));
    }
  }
  return parts.join(', ');
}

/** Every first word of a noun, for shell completion. */
export function firstWords(): string[] {
  return [...new Set(nouns.flatMap((n) => (n.prefix ? [n.prefix] : n.words)))];
}
