/**
 * Where `npm run build` puts `hn-wgbuf` (wgbuf.c): it raises the UDP socket buffers of a wireguard-go
 * daemon, which Node cannot reach (it needs pidfd_getfd(2) on another process's sockets).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const WGBUF_PATH = fileURLToPath(new URL('./hn-wgbuf', import.meta.url));

/**
 * The buffer size asked for each wireguard-go UDP socket: 7 MiB, what wireguard-go sets itself since
 * 2023 (the kernel reports twice the value, its bookkeeping included).
 */
export const WG_SOCKET_BUFFER = 7 << 20;

export const wgbufBuilt = (): boolean => existsSync(WGBUF_PATH);
