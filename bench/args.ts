/**
 * Command-line flags of the bench scripts: `--name N` as a number.
 * @returns the number after `--name`, or `dflt` when the flag is absent.
 */
export function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Number(process.argv[i + 1]) : dflt
}
