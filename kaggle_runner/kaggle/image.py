"""What Kaggle's images give an `import`: the standard library and the packages of the CPU/GPU and TPU images, so
that `kr push` refuses, before any upload, an import that nothing on Kaggle would provide."""

from __future__ import annotations

import re
import sys

# Distribution names (lower case; `-` and `.` written `_`) of the packages in Kaggle's images, as of 2026-08:
# - Colab's base image that Kaggle/docker-python's Dockerfile.tmpl builds on: googlecolab/backend-info,
#   pip-freeze.gpu.txt (2026-05-08, the last before the base image of 2026-05-14);
# - what docker-python adds to it: kaggle_requirements.txt, and tpu/requirements.in for the TPU VM image
#   (HEAD of 2026-08-12). Packages installed there from a URL or git are in INSTALLED_FROM_URLS.
DISTRIBUTIONS = frozenset(
    """
    absl_py accelerate access affine aiofiles aiohappyeyeballs aiohttp aiosignal aiosqlite alabaster albucore
    albumentations ale_py alembic altair annotated_doc annotated_types antlr4_python3_runtime anyio anywidget apsw
    apswutils argon2_cffi argon2_cffi_bindings array_record arrow arviz astropy astropy_iers_data astunparse atpublic
    attrs audioread authlib autograd babel backcall bayesian_optimization beartype beautifulsoup4 betterproto bigframes
    bigquery_magics bleach blinker blis blobfile blosc2 bokeh boruta boto3 bottleneck bqplot branca brotli cachecontrol
    cachetools cartopy catalogue catboost category_encoders certifi cesium cffi chardet charset_normalizer clarabel
    click click_plugins cligj cloudpathlib cloudpickle cmake cmdstanpy colorcet colorlover comm community confection
    cons contourpy cramjam cryptography cucim_cu12 cuda_bindings cuda_core cuda_pathfinder cuda_python cuda_toolkit
    cudf_cu12 cudf_polars_cu12 cufflinks cuml_cu12 cupy_cuda12x curl_cffi cuvs_cu12 cvxopt cvxpy cycler cyipopt cymem
    cython cytoolz dask dask_cuda dask_cudf_cu12 dataproc_spark_connect datasets db_dtypes dbus_python deap debugpy
    decorator defusedxml deprecation diffusers dill dipy distrax distributed distributed_ucxx_cu12 distro dlib dm_tree
    docker docstring_parser docutils dopamine_rl duckdb earthengine_api easydict easyocr editdistance eerepr einops
    emoji en_core_web_sm entrypoints esda et_xmlfile etils etuples farama_notifications fastai fastapi fastcore
    fastdownload fastjsonschema fastlite fastparquet fastprogress fasttext fasttransform featuretools ffmpy filelock
    fiona firebase_admin flask flatbuffers flax folium fonttools fqdn frozendict frozenlist fsspec fury future
    fuzzywuzzy gast gcsfs gdal gdown geemap gensim geocoder geographiclib geojson geopandas geopy giddy gin_config gitdb
    gitpython glob2 google google_adk google_ai_generativelanguage google_api_core google_api_python_client google_auth
    google_auth_httplib2 google_auth_oauthlib google_cloud_aiplatform google_cloud_appengine_logging
    google_cloud_audit_log google_cloud_bigquery google_cloud_bigquery_connection google_cloud_bigquery_storage
    google_cloud_bigtable google_cloud_core google_cloud_dataplex google_cloud_dataproc google_cloud_datastore
    google_cloud_discoveryengine google_cloud_firestore google_cloud_functions google_cloud_iam google_cloud_language
    google_cloud_logging google_cloud_monitoring google_cloud_pubsub google_cloud_resource_manager
    google_cloud_secret_manager google_cloud_spanner google_cloud_speech google_cloud_storage google_cloud_trace
    google_cloud_translate google_cloud_videointelligence google_cloud_vision google_colab google_crc32c google_genai
    google_generativeai google_pasta google_resumable_media googleapis_common_protos googledrivedownloader gpxpy gradio
    gradio_client grain graphviz greenlet groovy grpc_google_iam_v1 grpc_interceptor grpcio grpcio_status grpclib
    gspread gspread_dataframe gym gym_notices gymnasium h11 h2 h2o h5netcdf h5py haversine hdbscan hep_ml hf_xet highspy
    holidays holoviews hpack html5lib huggingface_hub humanize hyperframe hyperopt ibis_framework idna igraph imagehash
    imageio imageio_ffmpeg imagesize imbalanced_learn immutabledict importlib_metadata importlib_resources imutils
    inequality inflect iniconfig intel_cmplr_lib_ur intel_openmp ipyevents ipyfilechooser ipykernel ipyleaflet ipympl
    ipyparallel ipython ipython_genutils ipython_sql ipywidgets isoduration isoweek itsdangerous janome jaraco_classes
    jaraco_context jaraco_functools jax jax_cuda12_pjrt jax_cuda12_plugin jaxlib jedi jeepney jieba jinja2 jiter joblib
    jraph jsonpatch jsonpickle jsonpointer jsonschema jsonschema_specifications jupyter_client jupyter_console
    jupyter_core jupyter_events jupyter_kernel_gateway jupyter_leaflet jupyter_lsp jupyter_server jupyter_server_proxy
    jupyter_server_terminals jupyterlab jupyterlab_lsp jupyterlab_pygments jupyterlab_widgets jupytext kaggle
    kaggle_environments kagglehub kagglesdk keras keras_cv keras_hub keras_nlp keras_tuner keyring
    keyrings_google_artifactregistry_auth kiwisolver kornia langchain langchain_core langgraph langgraph_checkpoint
    langgraph_prebuilt langgraph_sdk langid langsmith lark launchpadlib lazr_restfulclient lazr_uri lazy_loader libclang
    libcudf_cu12 libcugraph_cu12 libcuml_cu12 libcuvs_cu12 libkvikio_cu12 libpysal libraft_cu12 librmm_cu12 librosa
    libucx_cu12 libucxx_cu12 lightgbm lime line_profiler linkify_it_py llvmlite locket logical_unification lxml mako
    mamba mapclassify markdown markdown_it_py markupsafe matplotlib matplotlib_inline matplotlib_venn mcp
    mdit_py_plugins mdurl mgwr minikanren missingno mistune mizani mkl ml_dtypes mlcrate mlxtend mmh3 mne momepy
    more_itertools moviepy mpld3 mpmath msgpack multidict multipledispatch multiprocess multitasking murmurhash music21
    namex narwhals natsort nbclassic nbclient nbconvert nbdev nbformat ndindex nest_asyncio networkx nibabel nilearn
    nltk notebook notebook_shim numba numba_cuda numexpr numpy nvidia_cublas_cu12 nvidia_cuda_cccl_cu12
    nvidia_cuda_cupti_cu12 nvidia_cuda_nvcc_cu12 nvidia_cuda_nvrtc_cu12 nvidia_cuda_runtime_cu12 nvidia_cudnn_cu12
    nvidia_cufft_cu12 nvidia_cufile_cu12 nvidia_curand_cu12 nvidia_cusolver_cu12 nvidia_cusparse_cu12
    nvidia_cusparselt_cu12 nvidia_libnvcomp_cu12 nvidia_ml_py nvidia_nccl_cu12 nvidia_nvimgcodec_cu12
    nvidia_nvjitlink_cu12 nvidia_nvshmem_cu12 nvidia_nvtx_cu12 nvtx nx_cugraph_cu12 oauth2client oauthlib olefile
    omegaconf onemkl_license onnx openai opencv_contrib_python opencv_python opencv_python_headless openpyxl
    openslide_bin openslide_python opentelemetry_api opentelemetry_exporter_gcp_logging
    opentelemetry_exporter_gcp_monitoring opentelemetry_exporter_gcp_trace opentelemetry_exporter_otlp_proto_common
    opentelemetry_exporter_otlp_proto_http opentelemetry_proto opentelemetry_resourcedetector_gcp opentelemetry_sdk
    opentelemetry_semantic_conventions opt_einsum optax optree optuna orbax_checkpoint orjson ormsgpack osqp overrides
    packaging pandas pandas_datareader pandas_gbq pandas_profiling pandas_stubs pandasql pandocfilters panel papermill
    param parso parsy partd path path_py patsy pdf2image peewee peft pexpect pickleshare pillow pip platformdirs plotly
    plotly_express plotnine pluggy plum_dispatch pointpats polars polars_runtime_32 pooch portpicker preshed prettytable
    proglog progressbar2 prometheus_client promise prompt_toolkit propcache prophet proto_plus protobuf psutil psycopg2
    psygnal ptyprocess pudb pulp py4j py_cpuinfo pyarabic pyarrow pyasn1 pyasn1_modules pycairo pycocotools pycparser
    pycryptodome pycryptodomex pydantic pydantic_core pydantic_settings pydata_google_auth pydicom pydot pydotplus
    pydrive2 pydub pyemd pyerfa pyexcel_ods pygame pygit2 pygments pygobject pyiceberg pyjwt pyldavis pylibcudf_cu12
    pylibcugraph_cu12 pylibraft_cu12 pymc pymongo pympler pynndescent pyogrio pyomo pyopengl pyopenssl pyparsing pypdf
    pyperclip pyproj pyroaring pysal pyshp pysocks pyspark pytensor pytesseract pytest python_apt python_box
    python_dateutil python_dotenv python_fasthtml python_json_logger python_louvain python_lsp_server python_multipart
    python_slugify python_snappy python_utils pytorch_ignite pytorch_lightning pytz pyupset pyviz_comms pywavelets
    pyyaml pyzmq qgrid qtconsole quantecon raft_dask_cu12 rapids_dask_dependency rapids_logger rasterio rasterstats
    ratelim ray referencing regex requests requests_oauthlib requests_toolbelt requirements_parser rfc3339_validator
    rfc3986_validator rfc3987_syntax rgf_python rich rmm_cu12 roman_numerals roman_numerals_py rpds_py rpy2 rsa rtree
    ruff s3fs safehttpx safetensors scikit_image scikit_learn scikit_multilearn scikit_optimize scikit_plot
    scikit_surprise scipy scooby scs seaborn secretstorage segregation semantic_version send2trash sentence_transformers
    sentencepiece sentry_sdk setuptools shap shapely shellingham simple_parsing simpleitk simplejson simsimd six
    sklearn_compat sklearn_pandas slicer smart_open smmap sniffio snowballstemmer sortedcontainers soundfile soupsieve
    soxr spacy spacy_legacy spacy_loggers spaghetti spanner_graph_notebook spglm sphinx sphinxcontrib_applehelp
    sphinxcontrib_devhelp sphinxcontrib_htmlhelp sphinxcontrib_jsmath sphinxcontrib_qthelp sphinxcontrib_serializinghtml
    spint splot spopt spreg sqlalchemy sqlalchemy_spanner sqlglot sqlparse squarify srsly sse_starlette stanio starlette
    statsmodels strictyaml stringzilla stumpy sympy tables tabulate tbb tblib tcmlib tenacity tensorboard
    tensorboard_data_server tensorflow tensorflow_cpu tensorflow_datasets tensorflow_hub tensorflow_io
    tensorflow_metadata tensorflow_probability tensorflow_text tensorstore termcolor terminado text_unidecode textblob
    tf_keras tf_slim thinc threadpoolctl tifffile tiktoken timm tinycss2 tobler tokenizers toml tomlkit toolz torch
    torchao torchaudio torchcodec torchdata torchinfo torchmetrics torchsummary torchtune torchvision tornado tpot
    tpu_info tqdm traitlets traittypes transformers trax treelite treescope triton tsfresh tweepy typeguard typer
    typer_slim types_pytz types_setuptools typing_extensions typing_inspection tzdata tzlocal uc_micro_py ucxx_cu12
    umap_learn umf uri_template uritemplate urllib3 uuid_utils uvicorn uvloop vega_datasets vtk wadllib wand wandb
    wasabi watchdog watchfiles wavio wcwidth weasel webcolors webencodings websocket_client websockets werkzeug wheel
    widgetsnbextension wordcloud wrapt xarray xarray_einstats xgboost xlrd xvfbwrapper xxhash xyzservices yarl
    ydata_profiling ydf ydf_tf yellowbrick yfinance zict zipp zstandard
    """.split()
)
INSTALLED_FROM_URLS = {"torch_xla", "libtpu", "haiku", "segment_anything", "tunix", "qwix"}
# Modules docker-python's patches/ folder puts on the image's path (UserSecretsClient, KaggleDatasets, ...)
KAGGLE_MODULES = {"kaggle_secrets", "kaggle_datasets", "kaggle_gcp", "kaggle_web_client", "kaggle_session"}
# The images run Python 3.12, which removed these modules of the standard library (PEP 594, and `imp`)
REMOVED_IN_312 = {"imp", "asynchat", "asyncore", "smtpd"}
# import name -> distribution, where the distribution's name neither is nor starts with the import name
DISTRIBUTION_OF = {
    "PIL": "pillow",
    "cv2": "opencv_python",
    "yaml": "pyyaml",
    "bs4": "beautifulsoup4",
    "dateutil": "python_dateutil",
    "attr": "attrs",
    "jwt": "pyjwt",
    "OpenSSL": "pyopenssl",
    "Crypto": "pycryptodome",
    "skimage": "scikit_image",
    "sklearn": "scikit_learn",
    "dotenv": "python_dotenv",
    "git": "gitpython",
    "google": "protobuf",
    "grpc": "grpcio",
    "mpl_toolkits": "matplotlib",
    "pkg_resources": "setuptools",
    "_distutils_hack": "setuptools",
    "tlz": "cytoolz",
    "zmq": "pyzmq",
}


def normalized(name: str) -> str:
    """A package or module name as DISTRIBUTIONS writes it: lower case, runs of `-`, `_` and `.` as one `_`."""
    return re.sub(r"[-_.]+", "_", name).lower()


def provides(module: str) -> bool:
    """Whether `import module` (a top-level name) works on Kaggle without installing anything: the standard library,
    Kaggle's own modules, or a package of the images, whose name is the module's or starts with it (absl_py)."""
    if module in REMOVED_IN_312:
        return False
    if module in sys.stdlib_module_names or module == "__future__" or module in KAGGLE_MODULES:
        return True
    if module in INSTALLED_FROM_URLS or DISTRIBUTION_OF.get(module, "") in DISTRIBUTIONS:
        return True
    name = normalized(module)
    return name in DISTRIBUTIONS or any(d.startswith(name + "_") for d in DISTRIBUTIONS)
