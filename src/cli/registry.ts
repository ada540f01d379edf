/** Commands contributed by later layers' front ends register here, keeping main.ts small. */

/** One top-level command. */
export interface Command {
  name: string;
  usage: string;
  run(argv: string[]): void | Promise<void>;
}

/** Extra commands (attach, link, events, feature, build, ...). */
export const commands: Command[] = [];
