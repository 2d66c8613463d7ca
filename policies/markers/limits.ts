/** The caps a marker pattern must keep; messages quote them. */

/** Longest pattern source, in UTF-16 code units. */
export const MAX_PATTERN_LENGTH = 256;

/** Largest n or m in `{n}`, `{n,}`, `{n,m}`. */
export const MAX_REPEAT = 100;

/**
 * Most character positions one pattern may expand to once bounded repetitions
 * are unrolled (`x{3}` is three positions). Beyond this the automaton and the
 * safety analysis stop being cheap, and no sensible marker needs it.
 */
export const MAX_POSITIONS = 1024;

/** Most states of the deterministic automaton of all patterns of one dataset. */
export const MAX_DFA_STATES = 4096;

/**
 * Bound on the construction work of the automaton (position visits while
 * building it), so that compiling stays in the milliseconds even for patterns
 * whose states are few but large.
 */
export const MAX_DFA_WORK = 1 << 22;

/**
 * Most partial matches a backtracking engine may have to keep trying at once,
 * from one start offset, for any input. Unambiguous patterns stay at a handful.
 */
export const MAX_AMBIGUITY = 64;

/** Most intermediate states the ambiguity analysis examines before giving up. */
export const MAX_ANALYSIS_STATES = 4096;
