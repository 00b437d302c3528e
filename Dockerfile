# The operator image: `chaosmonkey run` as a non-root user, from a wheel built in a first stage.
# BASE_IMAGE: any Debian-based image with Python 3.11+ and pip (pinned slim Python by default).
ARG BASE_IMAGE=python:3.12-slim-bookworm
FROM ${BASE_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator ./operator
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM ${BASE_IMAGE}
LABEL org.opencontainers.image.title="chaosmonkey-operator" \
      org.opencontainers.image.description="Kubernetes operator running Chaos Monkey Engine attacks from ChaosPlan resources" \
      org.opencontainers.image.licenses="Apache-2.0"
# A fixed numeric user, so Kubernetes can verify runAsNonRoot without a user database lookup.
RUN groupadd --gid 10001 chaosmonkey \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin chaosmonkey
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-compile /wheels/*.whl && rm -rf /wheels
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["chaosmonkey"]
CMD ["run"]
