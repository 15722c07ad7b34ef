# Enclave's R helpers, attached as "enclave" in every R session of the workspace (R and the R kernel in
# JupyterLab): the image's Rprofile.site sources this file (images/workspace/Dockerfile).
#
#   d <- enclave_read_parquet("/data/cohort/cohort.parquet")           # every column
#   d <- enclave_read_parquet(path, columns = c("region", "hba1c"))    # only these
#
# Why not the arrow package: Debian 12 packages no r-cran-arrow, and the image is built without network (no
# CRAN source build of arrow's C++ library), so R reads Parquet through reticulate and the image's own pyarrow
# (enclave_parquet.py). Types: integer (8-32 bit), double (floats, decimals and 64-bit integers, exact up to
# 2^53), logical, character, factor (dictionary columns), Date, POSIXct; nested columns as their text.

.enclave_say <- function(en, zh) {
  lang <- Sys.getenv("ENCLAVE_LANG", Sys.getenv("LANG"))
  if (startsWith(lang, "zh")) zh else en
}

enclave_read_parquet <- function(path, columns = NULL) {
  if (!is.character(path) || length(path) != 1L || !file.exists(path) || dir.exists(path)) {
    stop(.enclave_say(
      sprintf("enclave_read_parquet: %s is not a Parquet file (datasets are under /data)", deparse(path)),
      sprintf("enclave_read_parquet：%s 不是 Parquet 文件（数据集位于 /data 下）", deparse(path))), call. = FALSE)
  }
  if (!is.null(columns)) columns <- as.list(as.character(columns))
  got <- tryCatch(reticulate::import("enclave_parquet")$for_r(normalizePath(path), columns),
                  error = function(e) stop(.enclave_say(
                    sprintf("enclave_read_parquet: cannot read %s: %s", path, conditionMessage(e)),
                    sprintf("enclave_read_parquet：无法读取 %s：%s", path, conditionMessage(e))), call. = FALSE))
  n <- as.integer(got$nrow)
  cols <- lapply(got$columns, function(col) .enclave_column(col, n))
  names(cols) <- vapply(got$columns, function(col) col$name, "")
  structure(cols, class = "data.frame", row.names = .set_row_names(n))
}

.enclave_text <- function(bytes, n) {
  x <- readBin(bytes, "character", n)
  Encoding(x) <- "UTF-8"
  x
}

.enclave_column <- function(col, n) {
  na <- readBin(col$na, "integer", n, size = 1L, signed = FALSE) == 1L
  x <- switch(col$kind,
    integer = readBin(col$data, "integer", n, size = 4L, endian = "little"),
    logical = readBin(col$data, "integer", n, size = 4L, endian = "little") != 0L,
    double = readBin(col$data, "double", n, size = 8L, endian = "little"),
    character = .enclave_text(col$data, n),
    Date = structure(as.double(readBin(col$data, "integer", n, size = 4L, endian = "little")), class = "Date"),
    POSIXct = structure(readBin(col$data, "double", n, size = 8L, endian = "little"),
                        class = c("POSIXct", "POSIXt"), tzone = col$tz),
    factor = factor(readBin(col$data, "integer", n, size = 4L, endian = "little") + 1L,
                    levels = seq_len(col$nlevels), labels = .enclave_text(col$levels, col$nlevels)))
  x[na] <- NA
  x
}

# install.packages() cannot reach CRAN from a workspace (no network, by design): say why and how an R package
# gets in (a package request; the image's r: list), in the workspace's language, the same text pip gives.
install.packages <- function(...) {
  say <- "from enclave_messages import NO_NETWORK, language; print(NO_NETWORK[language()].format(tool='install.packages'))"
  stop(paste(system2("/opt/venv/bin/python", c("-c", shQuote(say)), stdout = TRUE), collapse = "\n"), call. = FALSE)
}
