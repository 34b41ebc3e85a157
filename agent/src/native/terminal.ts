// Terminal window size on a pty fd (a container's console, for ResizeTTY).
import { native } from './addon';

export interface WindowSize {
  rows: number;
  cols: number;
}

/** TIOCSWINSZ: the foreground process group gets SIGWINCH. */
export function setWindowSize(fd: number, size: WindowSize): void {
  native().setWindowSize(fd, size.rows, size.cols);
}

/** TIOCGWINSZ */
export function getWindowSize(fd: number): WindowSize {
  return native().getWindowSize(fd);
}
