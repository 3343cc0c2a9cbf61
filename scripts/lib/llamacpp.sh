# Fetches llama.cpp from the PyPI source package llama-cpp-python (which vendors it) into
# .build-llamacpp/ (git-ignored) and builds its tools natively. Sourced by the bench scripts
# and by scripts/fetch-vocab-tests.
#   llamacpp_tool NAME   prints the path of bin/NAME, building it first if needed.
LLAMACPP_VERSION=0.3.36
LLAMACPP_DIR=.build-llamacpp

# llamacpp_source   prints the vendored llama.cpp source folder, fetching it first if needed.
llamacpp_source() {
    local src=$LLAMACPP_DIR/src/llama_cpp_python-$LLAMACPP_VERSION/vendor/llama.cpp
    if [ ! -d "$src" ]; then
        mkdir -p "$LLAMACPP_DIR/src"
        echo "llama.cpp: fetching llama-cpp-python $LLAMACPP_VERSION (source) from PyPI" >&2
        python3 -m pip download --quiet --no-deps --no-binary=llama-cpp-python "llama-cpp-python==$LLAMACPP_VERSION" -d "$LLAMACPP_DIR"
        tar xzf "$LLAMACPP_DIR/llama_cpp_python-$LLAMACPP_VERSION.tar.gz" -C "$LLAMACPP_DIR/src"
    fi
    echo "$src"
}

llamacpp_tool() {
    local name=$1
    local src
    src=$(llamacpp_source)
    local bin=$src/build/bin/$name
    # ggml's AMX kernels crash (SIGSEGV in ggml_backend_amx_mul_mat) on the AMX-capable
    # Xeons these VMs run on, whose kernel does not grant the tile state: build without
    # them. A build made with other flags is redone.
    local flags="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
    if [ -d "$src/build" ] && [ "$(cat "$src/build/colony-flags" 2>/dev/null)" != "$flags" ]; then
        rm -rf "$src/build"
    fi
    if [ ! -x "$bin" ]; then
        command -v cmake >/dev/null || { echo "installing cmake (apt)" >&2; apt-get install -y -qq cmake >/dev/null; }
        echo "llama.cpp: building $name (native, CPU; a few minutes)" >&2
        cmake -S "$src" -B "$src/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_CURL=OFF \
            -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" \
            -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON >/dev/null
        echo "$flags" > "$src/build/colony-flags"
        cmake --build "$src/build" --target "$name" -j"$(nproc)" >"$src/build/$name.log" 2>&1 || {
            tail -30 "$src/build/$name.log" >&2
            echo "llama.cpp: building $name failed; the whole log is $src/build/$name.log" >&2
            return 1
        }
    fi
    echo "$bin"
}
