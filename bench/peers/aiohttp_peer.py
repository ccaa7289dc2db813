#!/usr/bin/python3
# The fallback peer when discord.py is not importable: the same design as discordpy_peer.py with aiohttp alone.
# The channel's history walked oldest first (GET /channels/{id}/messages?after=X&limit=100, as discord.py's
# history(oldest_first=True) does, honouring 429s), every attachment downloaded with aiohttp, `concurrency` at
# once, streamed to a file. Usage: aiohttp_peer.py <api> <token> <channel> <out> <concurrency>
# Prints one JSON line {files, bytes, ms, mbPerSecond}. Needs python3-aiohttp.
import asyncio
import sys

import aiohttp

from peer_downloads import Downloads


async def main() -> None:
    api, token, channel_id, out, concurrency = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
    headers = {'Authorization': f'Bot {token}'}

    async def get_json(session: aiohttp.ClientSession, url: str):
        while True:
            async with session.get(url, headers=headers) as response:
                if response.status == 429:
                    await asyncio.sleep(float((await response.json())['retry_after']))
                    continue
                response.raise_for_status()
                return await response.json()

    async with aiohttp.ClientSession() as api_session:
        await get_json(api_session, f'{api}/users/@me')  # the login discord.py's static_login makes
        downloads = Downloads(out, concurrency)
        after = 0
        while True:
            page = await get_json(api_session, f'{api}/channels/{channel_id}/messages?after={after}&limit=100')
            for message in sorted(page, key=lambda m: int(m['id'])):
                for attachment in message.get('attachments', []):
                    await downloads.add(attachment['id'], attachment['filename'], attachment['url'])
            if len(page) < 100:
                break
            after = max(int(m['id']) for m in page)
        await downloads.finish()


asyncio.run(main())
