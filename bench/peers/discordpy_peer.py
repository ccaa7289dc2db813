#!/usr/bin/python3
# A peer for the downloads benchmark: the plan's discord.py design, run offline against the project's fake.
# channel.history(limit=None, oldest_first=True) walks the messages; every attachment is downloaded with aiohttp
# (the same concurrency as dps), streamed to a file. Usage: discordpy_peer.py <api> <token> <channel> <out> <concurrency>
# Prints one JSON line {files, bytes, ms, mbPerSecond}. Needs Debian's python3-discord (2.2.x) and python3-aiohttp.
import asyncio
import json
import os
import sys
import time

import aiohttp
import discord
from discord.http import Route


async def main() -> None:
    api, token, channel_id, out, concurrency = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
    Route.BASE = api  # e.g. http://127.0.0.1:PORT/api/v10
    os.makedirs(out, exist_ok=True)
    client = discord.Client(intents=discord.Intents.none())
    await client.http.static_login(token)  # GET /users/@me only (login() also asks /oauth2/applications/@me, which the fake lacks); no gateway
    started = time.perf_counter()
    total = 0
    files = 0
    slots = asyncio.Semaphore(concurrency)
    tasks = set()

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

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        channel = client.get_partial_messageable(channel_id)
        async for message in channel.history(limit=None, oldest_first=True):
            for attachment in message.attachments:
                await slots.acquire()
                task = asyncio.create_task(fetch(session, attachment.url, os.path.join(out, f'{attachment.id}_{attachment.filename}')))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        await asyncio.gather(*tasks)
    ms = (time.perf_counter() - started) * 1000
    await client.close()
    print(json.dumps({'files': files, 'bytes': total, 'ms': ms, 'mbPerSecond': total / 1e6 / (ms / 1000)}))


asyncio.run(main())
