# The download half of the Python peers (discordpy_peer.py, aiohttp_peer.py): the plan's design, every
# attachment fetched with aiohttp, `concurrency` at once, each body streamed to a file without hashing or fsync.
import asyncio
import json
import os
import time

import aiohttp


class Downloads:
    def __init__(self, out: str, concurrency: int) -> None:
        os.makedirs(out, exist_ok=True)
        self.out = out
        self.slots = asyncio.Semaphore(concurrency)
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency))
        self.tasks: set = set()
        self.total = 0
        self.files = 0
        self.started = time.perf_counter()

    # Waits for a free slot, then downloads in the background.
    async def add(self, attachment_id: str, filename: str, url: str) -> None:
        await self.slots.acquire()
        task = asyncio.create_task(self._fetch(url, os.path.join(self.out, f'{attachment_id}_{filename}')))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _fetch(self, url: str, path: str) -> None:
        try:
            async with self.session.get(url) as response:
                response.raise_for_status()
                with open(path, 'wb') as f:
                    async for chunk in response.content.iter_chunked(64 * 1024):
                        f.write(chunk)
                        self.total += len(chunk)
            self.files += 1
        finally:
            self.slots.release()

    # Waits for every download, closes the session and prints the result line {files, bytes, ms, mbPerSecond}.
    async def finish(self) -> None:
        await asyncio.gather(*self.tasks)
        await self.session.close()
        ms = (time.perf_counter() - self.started) * 1000
        print(json.dumps({'files': self.files, 'bytes': self.total, 'ms': ms, 'mbPerSecond': self.total / 1e6 / (ms / 1000)}))
