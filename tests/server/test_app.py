import asyncio

import httpx

from coordinator.server.app import create_app


def test_the_app_factory_does_no_work_and_answers_health():
    async def main():
        transport = httpx.ASGITransport(app=create_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get("/health")

    response = asyncio.run(main())
    assert response.status_code == 200 and response.json()["status"] == "ok"
