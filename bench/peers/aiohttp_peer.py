#!/usr/bin/python3
# The fallback peer when discord.py is not importable: the same design as discordpy_peer.py with aiohttp alone.
# The channel's history walked oldest first (GET /channels/{id}/messages?after=X&limit=100, as discord.py's
# history(oldest_first=True) does, honouring 429s), every attachment downloaded with aiohttp, `concurrency` at
# once, streamed to a file. Usage: aiohttp_peer.py <api> <token> <channel> <out> <concurrency>
# Prints one JSON line {files, bytes, ms, mbPerSecond}. Needs python3-aiohttp.
import asyncio
import json
import os
import sys
import time

import aiohttp


async def main() -> None:
    api, token, channel_id, out, concurrency = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
    os.makedirs(out, exist_ok=True)
    headers = {'Authorization': f'Bot {token}'}
    total = 0
    files = 0
    slots = asyncio.Semaphore(concurrency)
    tasks = set()

    async def get_json(session: aiohttp.ClientSession, url: str):
        while True:
            async with session.get(url, headers=headers) as response:
                if response.status == 429:
                    await asyncio.sleep(float((await response.json())['retry_after']))
                    continue
                response.raise_for_status()
                return await response.json()

    async def fetch(session: aiohttp.ClientSession, url: str, path: str) -> None:
        nonlocal total, files
        try:
            async with session.get(url) as response:
                response.raise_for_status()
                with open(path, 'wb') as f:
                    async for chunk in response.content.iter_chunked(64 * 1024):
                        f.write(chunk)
                        total += len(chunk)
            files += 1
        finally:
            slots.release()

    async with aiohttp.ClientSession() as api_session:
        await get_json(api_session, f'{api}/users/@me')  # the login discord.py's static_login makes
        started = time.perf_counter()
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:
            after = 0
            while True:
                page = await get_json(api_session, f'{api}/channels/{channel_id}/messages?after={after}&limit=100')
                for message in sorted(page, key=lambda m: int(m['id'])):
                    for attachment in message.get('attachments', []):
                        await slots.acquire()
                        path = os.path.join(out, f"{attachment['id']}_{attachment['filename']}")
                        task = asyncio.create_task(fetch(session, attachment['url'], path))
                        tasks.add(task)
                        task.add_done_callback(tasks.discard)
                if len(page) < 100:
                    break
                after = max(int(m['id']) for m in page)
            await asyncio.gather(*tasks)
    ms = (time.perf_counter() - started) * 1000
    print(json.dumps({'files': files, 'bytes': total, 'ms': ms, 'mbPerSecond': total / 1e6 / (ms / 1000)}))


asyncio.run(main())
