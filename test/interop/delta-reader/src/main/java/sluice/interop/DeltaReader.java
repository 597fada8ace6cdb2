/*
 * Reads a Delta table the way a third-party engine would — through Delta Kernel and its own Parquet
 * reader — and prints one JSON line describing what it saw, for Sluice's interop tests.
 */
package sluice.interop;

import java.io.IOException;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

import org.apache.hadoop.conf.Configuration;

import io.delta.kernel.Scan;
import io.delta.kernel.ScanBuilder;
import io.delta.kernel.Snapshot;
import io.delta.kernel.SnapshotBuilder;
import io.delta.kernel.TableManager;
import io.delta.kernel.data.ArrayValue;
import io.delta.kernel.data.ColumnVector;
import io.delta.kernel.data.ColumnarBatch;
import io.delta.kernel.data.FilteredColumnarBatch;
import io.delta.kernel.data.MapValue;
import io.delta.kernel.data.Row;
import io.delta.kernel.defaults.engine.DefaultEngine;
import io.delta.kernel.engine.Engine;
import io.delta.kernel.engine.FileReadResult;
import io.delta.kernel.expressions.Column;
import io.delta.kernel.expressions.Literal;
import io.delta.kernel.expressions.Predicate;
import io.delta.kernel.internal.InternalScanFileUtils;
import io.delta.kernel.internal.data.ScanStateRow;
import io.delta.kernel.types.ArrayType;
import io.delta.kernel.types.BinaryType;
import io.delta.kernel.types.BooleanType;
import io.delta.kernel.types.ByteType;
import io.delta.kernel.types.DataType;
import io.delta.kernel.types.DateType;
import io.delta.kernel.types.DecimalType;
import io.delta.kernel.types.DoubleType;
import io.delta.kernel.types.FloatType;
import io.delta.kernel.types.IntegerType;
import io.delta.kernel.types.LongType;
import io.delta.kernel.types.MapType;
import io.delta.kernel.types.ShortType;
import io.delta.kernel.types.StringType;
import io.delta.kernel.types.StructField;
import io.delta.kernel.types.StructType;
import io.delta.kernel.types.TimestampNTZType;
import io.delta.kernel.types.TimestampType;
import io.delta.kernel.utils.CloseableIterator;
import io.delta.kernel.utils.FileStatus;

import static io.delta.kernel.internal.util.Utils.singletonCloseableIterator;

/**
 * Usage: {@code java -jar delta-reader.jar <table> [--version V] [--sum-column C]... [--txn APP_ID]...
 * [--filter "C OP V"] [--sample N] [--write-checkpoint] [--hadoop KEY=VALUE]...}
 *
 * <p>Prints {@code {"version","rows","files","schema","partitionColumns","columns"?,"txns"?,"sample"?}}. Every
 * row of every selected file is decoded by Kernel's Parquet reader, so a file Kernel cannot decode
 * fails the run. Column aggregates are strings so that longs and decimals stay exact; timestamps are
 * reported in Kernel's own unit (microseconds since the epoch) and, in samples, as ISO-8601 text.
 * A {@code --filter} makes Kernel prune files by partition values and by the {@code stats} of each
 * {@code add}, which is how tests check that Kernel parses what the writer put there.
 * {@code --write-checkpoint} then has Kernel write a classic checkpoint at the version it read.
 * A table may be an {@code s3a://bucket/key} URL, read through hadoop-aws; {@code --hadoop} sets its
 * endpoint and addressing ({@code fs.s3a.endpoint=…}), credentials come from the AWS environment.
 */
public final class DeltaReader {
  private static final ObjectMapper JSON =
      new ObjectMapper().configure(SerializationFeature.FAIL_ON_EMPTY_BEANS, false);

  private DeltaReader() {}

  public static void main(String[] args) {
    try {
      Options options = Options.parse(args);
      Map<String, Object> result = read(options);
      System.out.println(JSON.writeValueAsString(result));
      System.exit(0);
    } catch (Throwable error) {
      // The whole cause chain: Kernel wraps the Parquet reader's failure, which names the real problem.
      StringBuilder message = new StringBuilder();
      for (Throwable t = error; t != null; t = t.getCause()) {
        if (message.length() > 0) message.append("\n  caused by: ");
        message.append(t.getClass().getName()).append(": ").append(t.getMessage());
        if (t.getCause() == t) break;
      }
      System.err.println(message);
      System.exit(1);
    }
  }

  static Map<String, Object> read(Options options) throws IOException {
    Configuration hadoop = new Configuration();
    options.hadoopConf.forEach(hadoop::set);
    Engine engine = DefaultEngine.create(hadoop);
    SnapshotBuilder builder = TableManager.loadSnapshot(options.table);
    if (options.version != null) builder = builder.atVersion(options.version);
    Snapshot snapshot = builder.build(engine);

    StructType schema = snapshot.getSchema();
    ScanBuilder scanBuilder = snapshot.getScanBuilder();
    if (options.filter != null) scanBuilder = scanBuilder.withFilter(parseFilter(options.filter, schema));
    Scan scan = scanBuilder.build();

    Row scanState = scan.getScanState(engine);
    StructType physicalSchema = ScanStateRow.getPhysicalDataReadSchema(scanState);

    List<Aggregate> aggregates = new ArrayList<>();
    for (String name : options.sumColumns) aggregates.add(new Aggregate(name, resolvePath(schema, name)));
    List<Object> sample = new ArrayList<>();

    long rows = 0;
    long files = 0;
    try (CloseableIterator<FilteredColumnarBatch> scanFiles = scan.getScanFiles(engine)) {
      while (scanFiles.hasNext()) {
        FilteredColumnarBatch scanFileBatch = scanFiles.next();
        try (CloseableIterator<Row> scanFileRows = scanFileBatch.getRows()) {
          while (scanFileRows.hasNext()) {
            Row scanFileRow = scanFileRows.next();
            files++;
            FileStatus file = InternalScanFileUtils.getAddFileStatus(scanFileRow);
            CloseableIterator<ColumnarBatch> physical = engine.getParquetHandler()
                .readParquetFiles(singletonCloseableIterator(file), physicalSchema, Optional.empty())
                .map(FileReadResult::getData);
            try (CloseableIterator<FilteredColumnarBatch> logical =
                Scan.transformPhysicalData(engine, scanState, scanFileRow, physical)) {
              while (logical.hasNext()) {
                FilteredColumnarBatch batch = logical.next();
                ColumnarBatch data = batch.getData();
                Optional<ColumnVector> selection = batch.getSelectionVector();
                for (int i = 0; i < data.getSize(); i++) {
                  // A deletion vector shows up as an unselected row: it is not part of the table.
                  if (selection.isPresent()
                      && (selection.get().isNullAt(i) || !selection.get().getBoolean(i))) continue;
                  rows++;
                  for (Aggregate aggregate : aggregates) aggregate.accept(data, i);
                  if (sample.size() < options.sample) sample.add(rowToJson(data, i));
                }
              }
            }
          }
        }
      }
    }

    Map<String, Object> result = new LinkedHashMap<>();
    result.put("version", snapshot.getVersion());
    result.put("rows", rows);
    result.put("files", files);
    result.put("schema", schema.toJson());
    result.put("partitionColumns", snapshot.getPartitionColumnNames());
    if (!aggregates.isEmpty()) {
      Map<String, Object> columns = new LinkedHashMap<>();
      for (Aggregate aggregate : aggregates) columns.put(aggregate.name, aggregate.toJson());
      result.put("columns", columns);
    }
    if (!options.txnAppIds.isEmpty()) {
      // What a writer recovers from: the last version recorded for each application id.
      Map<String, Object> txns = new LinkedHashMap<>();
      for (String appId : options.txnAppIds) {
        txns.put(appId, snapshot.getLatestTransactionVersion(engine, appId).orElse(null));
      }
      result.put("txns", txns);
    }
    if (options.sample > 0) result.put("sample", sample);
    if (options.writeCheckpoint) {
      // A checkpoint written by the reference implementation, for tests of our checkpoint decoder.
      snapshot.writeCheckpoint(engine);
      result.put("checkpointWritten", snapshot.getVersion());
    }
    return result;
  }

  /** A column named with dots through structs, as field indexes and its leaf type. */
  record ColumnPath(int[] ordinals, DataType type) {}

  static ColumnPath resolvePath(StructType schema, String dotted) {
    String[] names = dotted.split("\\.");
    int[] ordinals = new int[names.length];
    DataType type = schema;
    for (int i = 0; i < names.length; i++) {
      if (!(type instanceof StructType struct)) {
        throw new IllegalArgumentException("column " + dotted + ": " + names[i - 1] + " is not a struct");
      }
      int ordinal = struct.indexOf(names[i]);
      if (ordinal < 0) throw new IllegalArgumentException("column " + dotted + " not in schema " + struct);
      ordinals[i] = ordinal;
      type = struct.at(ordinal).getDataType();
    }
    return new ColumnPath(ordinals, type);
  }

  /** Sum, min, max and null count of one numeric (or timestamp/date) column, kept exact. */
  static final class Aggregate {
    final String name;
    final ColumnPath path;
    BigDecimal sum = BigDecimal.ZERO;
    BigDecimal min;
    BigDecimal max;
    long nulls;
    long values;

    Aggregate(String name, ColumnPath path) {
      DataType type = path.type();
      boolean numeric = type instanceof ByteType || type instanceof ShortType || type instanceof IntegerType
          || type instanceof LongType || type instanceof FloatType || type instanceof DoubleType
          || type instanceof DecimalType || type instanceof TimestampType
          || type instanceof TimestampNTZType || type instanceof DateType;
      if (!numeric) throw new IllegalArgumentException("column " + name + " is " + type + ", not numeric");
      this.name = name;
      this.path = path;
    }

    void accept(ColumnarBatch batch, int row) {
      ColumnVector vector = batch.getColumnVector(path.ordinals()[0]);
      for (int i = 1; i < path.ordinals().length; i++) {
        if (vector.isNullAt(row)) break;
        vector = vector.getChild(path.ordinals()[i]);
      }
      if (vector.isNullAt(row)) {
        nulls++;
        return;
      }
      BigDecimal value = numeric(vector, row, path.type());
      values++;
      sum = sum.add(value);
      if (min == null || value.compareTo(min) < 0) min = value;
      if (max == null || value.compareTo(max) > 0) max = value;
    }

    Map<String, Object> toJson() {
      Map<String, Object> json = new LinkedHashMap<>();
      json.put("type", path.type().toString());
      json.put("values", values);
      json.put("nulls", nulls);
      json.put("sum", sum.toPlainString());
      json.put("min", min == null ? null : min.toPlainString());
      json.put("max", max == null ? null : max.toPlainString());
      return json;
    }
  }

  static BigDecimal numeric(ColumnVector vector, int row, DataType type) {
    if (type instanceof ByteType) return BigDecimal.valueOf(vector.getByte(row));
    if (type instanceof ShortType) return BigDecimal.valueOf(vector.getShort(row));
    if (type instanceof IntegerType || type instanceof DateType) return BigDecimal.valueOf(vector.getInt(row));
    if (type instanceof LongType || type instanceof TimestampType || type instanceof TimestampNTZType) {
      return BigDecimal.valueOf(vector.getLong(row));
    }
    if (type instanceof FloatType) return new BigDecimal(Float.toString(vector.getFloat(row)));
    if (type instanceof DoubleType) return new BigDecimal(Double.toString(vector.getDouble(row)));
    if (type instanceof DecimalType) return vector.getDecimal(row);
    throw new IllegalArgumentException(type + " is not numeric");
  }

  static Map<String, Object> rowToJson(ColumnarBatch batch, int row) {
    Map<String, Object> json = new LinkedHashMap<>();
    StructType schema = batch.getSchema();
    for (int c = 0; c < schema.length(); c++) {
      StructField field = schema.at(c);
      json.put(field.getName(), valueToJson(batch.getColumnVector(c), row, field.getDataType()));
    }
    return json;
  }

  /** A value as JSON: exact numbers as strings where JSON doubles would round, timestamps as ISO text. */
  static Object valueToJson(ColumnVector vector, int row, DataType type) {
    if (vector.isNullAt(row)) return null;
    if (type instanceof StringType) return vector.getString(row);
    if (type instanceof BooleanType) return vector.getBoolean(row);
    if (type instanceof ByteType) return vector.getByte(row);
    if (type instanceof ShortType) return vector.getShort(row);
    if (type instanceof IntegerType) return vector.getInt(row);
    if (type instanceof LongType) return Long.toString(vector.getLong(row));
    if (type instanceof FloatType) return vector.getFloat(row);
    if (type instanceof DoubleType) return vector.getDouble(row);
    if (type instanceof DecimalType) return vector.getDecimal(row).toPlainString();
    if (type instanceof DateType) return LocalDate.ofEpochDay(vector.getInt(row)).toString();
    if (type instanceof TimestampType) return microsToInstant(vector.getLong(row)).toString();
    if (type instanceof TimestampNTZType) {
      return LocalDateTime.ofInstant(microsToInstant(vector.getLong(row)), ZoneOffset.UTC).toString();
    }
    if (type instanceof BinaryType) return Base64.getEncoder().encodeToString(vector.getBinary(row));
    if (type instanceof StructType struct) {
      Map<String, Object> json = new LinkedHashMap<>();
      for (int c = 0; c < struct.length(); c++) {
        StructField field = struct.at(c);
        json.put(field.getName(), valueToJson(vector.getChild(c), row, field.getDataType()));
      }
      return json;
    }
    if (type instanceof ArrayType array) {
      ArrayValue value = vector.getArray(row);
      List<Object> json = new ArrayList<>();
      for (int i = 0; i < value.getSize(); i++) {
        json.add(valueToJson(value.getElements(), i, array.getElementType()));
      }
      return json;
    }
    if (type instanceof MapType map) {
      MapValue value = vector.getMap(row);
      Map<String, Object> json = new LinkedHashMap<>();
      for (int i = 0; i < value.getSize(); i++) {
        json.put(String.valueOf(valueToJson(value.getKeys(), i, map.getKeyType())),
            valueToJson(value.getValues(), i, map.getValueType()));
      }
      return json;
    }
    throw new IllegalArgumentException("no JSON rendering for " + type);
  }

  static Instant microsToInstant(long micros) {
    return Instant.ofEpochSecond(Math.floorDiv(micros, 1_000_000L), Math.floorMod(micros, 1_000_000L) * 1000L);
  }

  /** {@code "<column> <op> <value>"} with op one of = < <= > >=, the value read as the column's type. */
  static Predicate parseFilter(String text, StructType schema) {
    String[] parts = text.trim().split("\\s+", 3);
    if (parts.length != 3) throw new IllegalArgumentException("filter must be '<column> <op> <value>': " + text);
    String op = parts[1];
    if (!List.of("=", "<", "<=", ">", ">=").contains(op)) throw new IllegalArgumentException("bad operator " + op);
    ColumnPath path = resolvePath(schema, parts[0]);
    Literal literal = literal(path.type(), parts[2]);
    return new Predicate(op, new Column(parts[0].split("\\.")), literal);
  }

  static Literal literal(DataType type, String text) {
    if (type instanceof StringType) return Literal.ofString(text);
    if (type instanceof IntegerType) return Literal.ofInt(Integer.parseInt(text));
    if (type instanceof LongType) return Literal.ofLong(Long.parseLong(text));
    if (type instanceof ShortType) return Literal.ofShort(Short.parseShort(text));
    if (type instanceof ByteType) return Literal.ofByte(Byte.parseByte(text));
    if (type instanceof DoubleType) return Literal.ofDouble(Double.parseDouble(text));
    if (type instanceof FloatType) return Literal.ofFloat(Float.parseFloat(text));
    if (type instanceof BooleanType) return Literal.ofBoolean(Boolean.parseBoolean(text));
    if (type instanceof DateType) return Literal.ofDate((int) LocalDate.parse(text).toEpochDay());
    if (type instanceof DecimalType decimal) {
      return Literal.ofDecimal(new BigDecimal(text).setScale(decimal.getScale()), decimal.getPrecision(),
          decimal.getScale());
    }
    if (type instanceof TimestampType) {
      Instant instant = Instant.parse(text);
      BigInteger micros = BigInteger.valueOf(instant.getEpochSecond()).multiply(BigInteger.valueOf(1_000_000L))
          .add(BigInteger.valueOf(instant.getNano() / 1000));
      return Literal.ofTimestamp(micros.longValueExact());
    }
    throw new IllegalArgumentException("no literal syntax for " + type);
  }

  static final class Options {
    String table;
    Long version;
    final List<String> sumColumns = new ArrayList<>();
    final List<String> txnAppIds = new ArrayList<>();
    String filter;
    int sample;
    boolean writeCheckpoint;
    /** Hadoop settings, e.g. an S3-compatible endpoint for an {@code s3a://} table. */
    final Map<String, String> hadoopConf = new LinkedHashMap<>();

    static Options parse(String[] args) {
      Options options = new Options();
      for (int i = 0; i < args.length; i++) {
        String arg = args[i];
        switch (arg) {
          case "--version" -> options.version = Long.parseLong(value(args, ++i, arg));
          case "--sum-column" -> options.sumColumns.add(value(args, ++i, arg));
          case "--txn" -> options.txnAppIds.add(value(args, ++i, arg));
          case "--filter" -> options.filter = value(args, ++i, arg);
          case "--write-checkpoint" -> options.writeCheckpoint = true;
          case "--sample" -> options.sample = Integer.parseInt(value(args, ++i, arg));
          case "--hadoop" -> {
            String setting = value(args, ++i, arg);
            int eq = setting.indexOf('=');
            if (eq <= 0) throw new IllegalArgumentException("--hadoop needs key=value, got " + setting);
            options.hadoopConf.put(setting.substring(0, eq), setting.substring(eq + 1));
          }
          default -> {
            if (arg.startsWith("--") || options.table != null) {
              throw new IllegalArgumentException("unexpected argument " + arg);
            }
            options.table = arg;
          }
        }
      }
      if (options.table == null) {
        throw new IllegalArgumentException("usage: delta-reader <table> [--version V] [--sum-column C]... "
            + "[--txn APP_ID]... [--filter \"C OP V\"] [--sample N] [--write-checkpoint] [--hadoop KEY=VALUE]...");
      }
      return options;
    }

    static String value(String[] args, int i, String flag) {
      if (i >= args.length) throw new IllegalArgumentException(flag + " needs a value");
      return args[i];
    }
  }
}
