"""The Wyoming listener on its own (loading, idle, drain, shutdown, binding, zeroconf) and its
wiring into serve's lifespan."""

import asyncio
import socket
from functools import partial

import httpx
import pytest
from wyoming.audio import AudioStart
from wyoming.client import AsyncTcpClient
from wyoming.error import Error
from wyoming.info import Describe, Info
from wyoming.tts import Synthesize

from coordinator.cli import main
from coordinator.clock import MONOTONIC
from coordinator.config.catalog import load_catalog
from coordinator.config.settings import Settings
from coordinator.errors import ConfigError
from coordinator.launch.app import create_app
from coordinator.service.lifecycle import Lifecycle
from coordinator.service.limits import RequestLimits
from coordinator.service.metrics import Metrics
from coordinator.wyoming.context import ServerContext
from coordinator.wyoming.handler import SpeechHandler
from coordinator.wyoming.info import speech_info, voice_entries
from coordinator.wyoming.ports import check_wyoming_bind, wyoming_host
from coordinator.wyoming.server import WyomingServer
from coordinator.wyoming.speaking import SpeechPort
from coordinator.wyoming.zeroconf import SERVICE_TYPE, Announcer
from tests.rig.clock import FakeClock
from tests.rig.waiting import HANG_GUARD_S, eventually
from tests.wyoming.conftest import free_port, serving

READ_TIMEOUT_S = 60


def service(settings, runtime=None, *, lifecycle=None, reason=None, idle_timeout_s=60.0, clock=MONOTONIC):
    catalog = load_catalog(settings.catalog_path())
    context = ServerContext(
        runtime=lambda: runtime,
        not_ready_reason=lambda: reason,
        lifecycle=lifecycle or Lifecycle(),
        idle_timeout_s=idle_timeout_s,
        clock=clock,
    )
    return SpeechPort(
        context=context,
        info=speech_info(catalog).event(),
        voices=voice_entries(catalog),
        limits=RequestLimits.from_settings(settings),
        metrics=Metrics(lambda: runtime),
    )


async def started(service, announcer=None):
    server = WyomingServer(partial(SpeechHandler, service), "127.0.0.1", 0, announcer=announcer)
    await server.start()
    return server


def client(server):
    return AsyncTcpClient("127.0.0.1", server.port, read_timeout=READ_TIMEOUT_S)


async def first_answer(server, event):
    async with client(server) as wy:
        await wy.write_event(event)
        return await wy.read_event()


def test_while_the_models_load_describe_answers_and_speech_is_an_error_saying_so(settings):
    async def scenario():
        server = await started(service(settings, reason="downloading the models: retry later"))
        try:
            info = await first_answer(server, Describe().event())
            error = await first_answer(server, Synthesize(text="Hello.").event())
        finally:
            await server.stop()
        return info, Error.from_event(error)

    info, error = asyncio.run(scenario())
    assert Info.is_type(info.type) and Info.from_event(info).tts[0].voices
    assert error.code == "model_loading" and error.text == "downloading the models: retry later"


def test_an_idle_connection_is_closed_but_a_long_speech_is_not_cut(settings, runtime):
    idle, clock = 0.2, FakeClock()

    async def scenario():
        server = await started(service(settings, runtime, idle_timeout_s=idle, clock=clock))
        try:
            async with client(server) as wy:
                await clock.until_sleeping(timed=True)  # the connection waits for an event
                clock.advance(idle / 2)
                await clock.until_sleeping(timed=True)  # not idle long enough yet: still open
                clock.advance(idle / 2)
                assert await wy.read_event() is None  # we sent nothing: closed
            async with client(server) as wy:
                text = " ".join(["Here is a sentence that fills most of one utterance, more or less."] * 10)
                await wy.write_event(Synthesize(text=text).event())
                types = []
                while not types or types[-1] != "audio-stop":
                    event = await wy.read_event()
                    assert event is not None, types
                    types.append(event.type)
                    if types.count("audio-chunk") == 1:
                        # Speaking, the client silent: many idle timeouts pass, and nothing is cut.
                        await clock.until_sleeping(timed=True)
                        clock.advance(idle * 10)
                return types
        finally:
            await server.stop()

    types = asyncio.run(scenario())
    assert types.count("audio-start") == 1 and types.count("audio-chunk") > 1


def test_while_draining_new_speech_is_refused_and_speech_in_flight_counts(settings, runtime):
    lifecycle = Lifecycle()

    async def scenario():
        server = await started(service(settings, runtime, lifecycle=lifecycle))
        try:
            async with client(server) as wy:
                await wy.write_event(Synthesize(text="Hello there.").event())
                event = await wy.read_event()
                assert AudioStart.is_type(event.type)
                in_flight = lifecycle.in_flight  # the drain waits for it
                while (await wy.read_event()).type != "audio-stop":
                    pass
            done = lifecycle.in_flight
            lifecycle.start_draining()
            refused = await first_answer(server, Synthesize(text="Hello there.").event())
        finally:
            await server.stop()
        return in_flight, done, Error.from_event(refused)

    in_flight, done, refused = asyncio.run(scenario())
    assert (in_flight, done) == (1, 0)
    assert refused.code == "shutting_down" and "retry" in refused.text


def test_stop_ends_speech_in_flight_and_closes_the_port(settings, runtime):
    async def scenario():
        server = await started(service(settings, runtime))
        port = server.port
        wy = client(server)
        await wy.connect()
        text = " ".join(["A sentence that goes on for a good while before it ends."] * 20)
        await wy.write_event(Synthesize(text=text).event())
        assert AudioStart.is_type((await wy.read_event()).type)
        await asyncio.wait_for(server.stop(), timeout=HANG_GUARD_S)  # bounded by its own STOP_TIMEOUT_S
        while (event := await wy.read_event()) is not None:  # what was already sent, then the end
            assert event.type in ("audio-chunk", "audio-stop")
        await wy.disconnect()
        with pytest.raises(OSError):
            await AsyncTcpClient("127.0.0.1", port).connect()
        return server.connections

    assert asyncio.run(scenario()) == 0
    eventually(lambda: not runtime.tts.engine.kv_cells_in_use(), "the stopped speech gave back its KV cells")


def test_a_port_in_use_is_one_error_naming_wyoming_port(settings):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = WyomingServer(partial(SpeechHandler, service(settings)), "127.0.0.1", taken.getsockname()[1])
        with pytest.raises(ConfigError, match="cannot listen for Wyoming on 127.0.0.1:.*WYOMING_PORT"):
            asyncio.run(server.start())


@pytest.mark.parametrize(
    ("env", "refused"),
    [
        ({"wyoming_port": 10200}, False),  # HOST's loopback default
        ({"wyoming_port": 10200, "host": "0.0.0.0"}, True),  # follows HOST
        ({"wyoming_port": 10200, "host": "0.0.0.0", "api_key": "k"}, True),  # a key cannot cover it
        ({"wyoming_port": 10200, "host": "0.0.0.0", "wyoming_host": "::1"}, False),
        ({"wyoming_port": 10200, "wyoming_host": "192.168.1.5"}, True),
        ({"wyoming_port": 10200, "wyoming_host": "0.0.0.0", "allow_no_auth": True}, False),
        ({"wyoming_stt_port": 10300, "host": "0.0.0.0"}, True),  # transcription alone too
        ({"host": "0.0.0.0"}, False),  # Wyoming off
    ],
)
def test_wyoming_binds_beyond_loopback_only_with_allow_no_auth(env, refused):
    settings = Settings(_env_file=None, **env)
    if refused:
        with pytest.raises(ConfigError, match="no authentication.*ALLOW_NO_AUTH=1"):
            check_wyoming_bind(settings)
    else:
        check_wyoming_bind(settings)


def test_wyoming_host_defaults_to_host():
    assert wyoming_host(Settings(_env_file=None, host="10.0.0.2")) == "10.0.0.2"
    assert wyoming_host(Settings(_env_file=None, host="10.0.0.2", wyoming_host="127.0.0.1")) == "127.0.0.1"


def test_empty_wyoming_settings_mean_unset():
    settings = Settings(_env_file=None, wyoming_port="", wyoming_host="", wyoming_seed="")
    assert (settings.wyoming_port, settings.wyoming_host, settings.wyoming_seed) == (None, None, None)


def test_serve_refuses_wyoming_beyond_loopback_without_allow_no_auth(cli_env, monkeypatch, capsys):
    monkeypatch.setenv("HOST", "0.0.0.0")
    monkeypatch.setenv("API_KEY", "secret-key")
    monkeypatch.setenv("WYOMING_PORT", "10200")
    assert main(["serve"]) != 0
    error = capsys.readouterr().err
    assert error.startswith("error: refusing to listen for Wyoming on 0.0.0.0") and error.count("\n") == 1


def test_zeroconf_announces_the_port_and_withdraws_it_on_stop(settings):
    from zeroconf import IPVersion
    from zeroconf.asyncio import AsyncZeroconf

    name = f"orpheus-test-{free_port()}"

    async def lookup():
        browser = AsyncZeroconf(interfaces=["127.0.0.1"], ip_version=IPVersion.V4Only)
        try:
            return await browser.async_get_service_info(SERVICE_TYPE, f"{name}.{SERVICE_TYPE}", timeout=3000)
        finally:
            await browser.async_close()

    async def scenario():
        server = await started(service(settings), announcer=Announcer("127.0.0.1", name))
        try:
            found = await lookup()
        finally:
            await server.stop()
        return server.port, found, await lookup()

    port, found, after = asyncio.run(scenario())
    assert found is not None and found.port == port and found.parsed_addresses() == ["127.0.0.1"]
    assert after is None


def test_the_lifespan_starts_wyoming_with_http_and_stops_it_with_the_app(settings, runtime):
    port = free_port()
    app = create_app(settings.model_copy(update={"wyoming_port": port}), runtime=runtime)
    with serving(app) as url:
        assert httpx.get(f"{url}/health").status_code == 200
        wyoming = app.state.wyoming
        answer = asyncio.run(first_answer(wyoming, Describe().event()))
        assert Info.is_type(answer.type) and wyoming.port == port
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_without_wyoming_port_nothing_listens(settings, runtime):
    app = create_app(settings, runtime=runtime)
    with serving(app):
        assert app.state.wyoming is None and app.state.wyoming_stt is None


def test_the_transcription_port_alone_starts_and_stops_with_the_app(settings, runtime):
    port = free_port()
    app = create_app(settings.model_copy(update={"wyoming_stt_port": port}), runtime=runtime)
    with serving(app):
        assert app.state.wyoming is None
        answer = asyncio.run(first_answer(app.state.wyoming_stt, Describe().event()))
        assert Info.from_event(answer).asr[0].models[0].name == runtime.stt.model_id
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
