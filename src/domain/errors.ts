/**
 * Errors that mean "the input is wrong": a bad config, a date outside the covered
 * range, a malformed file. The CLI prints their message (already written for a
 * person) and exits 2; anything else is a bug and exits 1 with a stack.
 */
export class InputError extends Error {
  override readonly name: string = 'InputError';
  constructor(
    message: string,
    /** One line per problem, each readable on its own; the message is their summary. */
    readonly problems: readonly string[] = [],
  ) {
    super(message);
  }
}
