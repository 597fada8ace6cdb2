/**
 * Small facts about the local stack's files and processes shared by its programs: paths as people
 * read them, whether a process is alive, and the Java that runs them.
 */
import * as path from "node:path"

/** `file` relative to the working directory when it is inside it: shorter lines for people. */
export const shortPath = (file: string): string => {
  const relative = path.relative(process.cwd(), file)
  return relative !== "" && !relative.startsWith("..") && !path.isAbsolute(relative) ? relative : file
}

/** Whether a process exists (EPERM: it exists but belongs to someone else). */
export const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

/** `$JAVA_HOME/bin/java` when JAVA_HOME is set, else `java` from the PATH. */
export const javaCommand = (): string => (process.env["JAVA_HOME"] ? path.join(process.env["JAVA_HOME"], "bin", "java") : "java")

export const javaNotFound = "install Java 17+ (apt-get install openjdk-17-jre-headless) or set JAVA_HOME"
