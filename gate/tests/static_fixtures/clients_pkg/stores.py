"""Database and cache clients: psycopg, psycopg2, redis; and boto3."""

import boto3
import psycopg
import psycopg2
import redis
import redis.asyncio


async def query(dsn: str, conn: psycopg.Connection, legacy: "psycopg2.extensions.connection"):
    with psycopg.connect(dsn) as fresh:  # blocking: psycopg.connect
        del fresh
    conn.execute("select 1")  # blocking: psycopg.Connection.execute
    conn.commit()  # blocking: psycopg.Connection.commit
    other = psycopg2.connect(dsn)  # blocking: psycopg2.connect
    legacy.commit()  # blocking: psycopg2.extensions.connection.commit
    return other


async def cache(sync: redis.Redis, shared: redis.asyncio.Redis):
    sync.get("k")  # blocking: redis.Redis.get
    local = redis.Redis()
    local.set("k", "v")  # blocking: redis.Redis.set
    pipe = local.pipeline()
    pipe.set("a", "1")  # twin: a pipeline buffers the command
    pipe.execute()  # blocking: redis.client.Pipeline.execute
    pending = shared.get("k")  # twin: the async client's coroutine
    return await pending


async def cloud(bucket: str):
    s3 = boto3.client("s3")  # blocking: boto3.client
    session = boto3.session.Session()
    session.resource("s3")  # blocking: boto3.session.Session.resource
    return s3, bucket
