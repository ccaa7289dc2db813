#!/usr/bin/python3
# A peer for the downloads benchmark: the plan's discord.py design, run offline against the project's fake.
# channel.history(limit=None, oldest_first=True) walks the messages; every attachment is downloaded with aiohttp
# (the same concurrency as dps), streamed to a file. Usage: discordpy_peer.py <api> <token> <channel> <out> <concurrency>
# Prints one JSON line {files, bytes, ms, mbPerSecond}. Needs Debian's python3-discord (2.2.x) and python3-aiohttp.
import asyncio
import sys

import discord
from discord.http import Route

from peer_downloads import Downloads


async def main() -> None:
    api, token, channel_id, out, concurrency = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
    Route.BASE = api  # e.g. http://127.0.0.1:PORT/api/v10
    client = discord.Client(intents=discord.Intents.none())
    await client.http.static_login(token)  # GET /users/@me only (login() also asks /oauth2/applications/@me, which the fake lacks); no gateway
    downloads = Downloads(out, concurrency)
    channel = client.get_partial_messageable(channel_id)
    async for message in channel.history(limit=None, oldest_first=True):
        for attachment in message.attachments:
            await downloads.add(str(attachment.id), attachment.filename, attachment.url)
    await downloads.finish()
    await client.close()


asyncio.run(main())
