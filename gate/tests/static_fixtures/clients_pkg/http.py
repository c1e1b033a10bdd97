"""HTTP clients: requests, httpx and urllib3."""

import asyncio

import httpx
import requests
import urllib3
from requests import Session


async def fetch(url: str):
    requests.get(url, timeout=5)  # blocking: requests.get
    session = Session()
    session.post(url, data=b"", timeout=5)  # blocking: requests.Session.post
    httpx.get(url)  # blocking: httpx.get
    with httpx.Client() as client:  # blocking: httpx.Client
        client.get(url)  # blocking: httpx.Client.get
    urllib3.request("GET", url)  # blocking: urllib3.request
    pool = urllib3.PoolManager()
    return pool.request("GET", url)  # blocking: urllib3.PoolManager.request


async def build() -> httpx.AsyncClient:
    return httpx.AsyncClient()  # blocking: httpx.AsyncClient


async def in_process(app, url: str, options: dict):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as client:  # twin: no SSL context
        await client.get(url)
    mock = httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(200)))  # twin: the same
    retrying = httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(retries=2))  # blocking: httpx.AsyncClient
    proxied = httpx.AsyncClient(transport=mock, proxy="http://proxy:3128")  # blocking: httpx.AsyncClient
    configured = httpx.AsyncClient(transport=mock, **options)  # blocking: httpx.AsyncClient
    network = httpx.AsyncHTTPTransport(retries=2)
    built_before = httpx.AsyncClient(transport=network)  # blocking: httpx.AsyncClient
    return mock, retrying, proxied, configured, built_before


async def fetch_async(url: str, client: httpx.AsyncClient):
    await client.get(url)  # twin: the async client
    pending = [client.get(u) for u in (url, url)]  # twin: coroutines, gathered below
    await asyncio.gather(*pending)
    return await asyncio.to_thread(requests.get, url, timeout=5)  # twin: offloaded


class Catalog:
    """A package class whose methods share the clients' names."""

    def __init__(self) -> None:
        self.items: dict[str, str] = {}

    def get(self, key: str) -> str:
        return self.items.get(key, "")

    def request(self, key: str) -> str:
        return self.get(key)


async def lookup(catalog: Catalog, key: str):
    return catalog.get(key), catalog.request(key)  # twin: not a client
